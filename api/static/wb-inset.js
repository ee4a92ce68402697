/* Small maps on workbench pages: Leaflet from /assets/leaflet (served locally), no base map
   (offline intranets). A map box <div class="inset-map" data-geojson="ID"> names the <script
   type="application/json" id="ID"> holding its GeoJSON. Without JavaScript the page keeps its
   SVG outline or table; this only adds pan, zoom and neighbours. */
(function () {
  "use strict";
  if (typeof L === "undefined") { return; }
  var STYLES = {
    self: { color: "#8a3c00", weight: 2, fillColor: "#f0a500", fillOpacity: 0.5 },
    other: { color: "#5b6570", weight: 1, fillColor: "#c8ced6", fillOpacity: 0.45 },
    site: { color: "#0b3d6b", weight: 2, fillColor: "#3d7fbf", fillOpacity: 0.45 },
    outline: { color: "#8a939c", weight: 1, fill: false, interactive: false },
    ref: { color: "#6b3d0b", weight: 3, opacity: 0.8, fillColor: "#d08a2f", fillOpacity: 0.8, radius: 6 }
  };
  function kind(f) {
    if (f.properties && f.properties.outline) { return "outline"; }
    if (f.properties && f.properties.kind) { return "ref"; }
    if (f.properties && f.properties.site_rank !== undefined) { return "site"; }
    return f.properties && f.properties.self ? "self" : "other";
  }
  function draw(box) {
    var source = document.getElementById(box.getAttribute("data-geojson"));
    if (!source) { return; }
    var fc = JSON.parse(source.textContent);
    if (!fc || !fc.features || !fc.features.length) { return; }
    box.innerHTML = "";
    box.classList.add("leaflet-on");
    var map = L.map(box, { attributionControl: false, zoomSnap: 0.25 });
    var focus = [];
    var layer = L.geoJSON(fc, {
      style: function (f) { return STYLES[kind(f)]; },
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, STYLES.ref); },
      onEachFeature: function (f, l) {
        var p = f.properties || {};
        if (kind(f) === "site") {
          l.bindTooltip("第 " + p.site_rank + " 名，" + p.area_mu + " 亩", { permanent: fc.features.length <= 10 });
          focus.push(l);
        } else if (kind(f) === "outline") {
          return;
        } else if (kind(f) === "ref") {
          l.bindTooltip(p.label + "：" + p.name);
        } else if (p.code) {
          l.bindTooltip(p.code);
          if (kind(f) === "self") { focus.push(l); }
          else { l.on("click", function () { window.location.href = "/parcels/" + encodeURIComponent(p.code); }); }
        }
      }
    }).addTo(map);
    var bounds = focus.length ? L.featureGroup(focus).getBounds() : layer.getBounds();
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: 18 });
    L.control.scale({ imperial: false }).addTo(map);
  }
  var boxes = document.querySelectorAll(".inset-map[data-geojson]");
  for (var i = 0; i < boxes.length; i++) { draw(boxes[i]); }
})();
