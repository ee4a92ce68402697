/* hggis maps: popups, styles and vector tiles shared by every map page (no third-party code).
 *
 * The folium builders (maps/) emit data and small option objects; drawing rules live here so
 * that a GeoJSON layer and a vector-tile layer of the same data look and click alike.
 * Every value shown in a popup is escaped.
 */
(function () {
  "use strict";

  var HGGIS = window.HGGIS = window.HGGIS || {};
  HGGIS.layers = HGGIS.layers || {};
  HGGIS.errors = HGGIS.errors || [];

  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  HGGIS.esc = esc;

  function num(value, digits) {
    var n = Number(value);
    if (!isFinite(n)) { return esc(value); }
    return n.toLocaleString("zh-CN", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  // kind → how a value is written in a popup
  var FORMATS = {
    text: function (v) { return esc(v); },
    mu: function (v) { return num(v, HGGIS.areaDecimals) + " 亩"; },  // set by the page from AREA_DECIMALS
    yi: function (v) { return num(v, 1) + " 亿元"; },
    num1: function (v) { return num(v, 1); },
    num2: function (v) { return num(v, 2); },
    int: function (v) { return num(v, 0); },
    wan_mu: function (v) { return num(v, 1) + " 万元/亩"; },
    days: function (v) { return num(v, 0) + " 天"; },
    pct: function (v) { return num(Number(v) * 100, 1) + "%"; },
    link: function (v) { return '<a href="' + esc(v) + '">详情</a>'; },
    parcel: function (v) { return '<a class="hg-parcel-link" href="/parcels/' + encodeURIComponent(v) + '">查看地块详情</a>'; }
  };

  // fields: [[key, label, kind], ...]; empty values are left out
  HGGIS.popupHtml = function (props, fields, title) {
    var rows = [];
    for (var i = 0; i < fields.length; i++) {
      var key = fields[i][0], label = fields[i][1], kind = fields[i][2] || "text";
      var value = props[key];
      if (value === null || value === undefined || value === "") { continue; }
      rows.push("<tr><th>" + esc(label) + "</th><td>" + (FORMATS[kind] || FORMATS.text)(value) + "</td></tr>");
    }
    var head = title && props[title] ? "<div class=\"hg-popup-title\">" + esc(props[title]) + "</div>" : "";
    return "<div class=\"hg-popup\">" + head + "<table>" + rows.join("") + "</table></div>";
  };

  // style spec (data from Python): {color, fillColor, by, palette, breaks, colors, weight, fillOpacity, dashArray}
  function colorOf(spec, props) {
    var v = spec.by ? props[spec.by] : undefined;
    if (spec.palette) {
      return (v !== undefined && v !== null && spec.palette[v]) || spec.fallback || spec.fillColor || "#888";
    }
    if (spec.breaks) {
      if (v === undefined || v === null || !isFinite(Number(v))) { return spec.fallback || "#ccc"; }
      var i = 0;
      while (i < spec.breaks.length && Number(v) >= spec.breaks[i]) { i++; }
      return spec.colors[i];
    }
    return spec.fillColor || spec.color || "#3388ff";
  }

  HGGIS.style = function (spec, props) {
    var fill = colorOf(spec, props || {});
    return {
      color: spec.stroke === "fill" ? fill : (spec.color || "#333"),
      weight: spec.weight === undefined ? 1 : spec.weight,
      opacity: spec.opacity === undefined ? 1 : spec.opacity,
      fill: spec.fill === undefined ? true : spec.fill,
      fillColor: fill,
      fillOpacity: spec.fillOpacity === undefined ? 0.6 : spec.fillOpacity,
      dashArray: spec.dashArray || null
    };
  };

  function radius(spec, props) {
    var r = spec.radius || 6;
    if (spec.radiusBy && props[spec.radiusBy] !== null && props[spec.radiusBy] !== undefined) {
      var v = Math.max(0, Number(props[spec.radiusBy]));
      r = Math.min(spec.maxRadius || 30, (spec.minRadius || 5) + Math.sqrt(v) * (spec.radiusScale || 1));
    }
    return r;
  }

  // A GeoJSON overlay; opts: {name, style, points: {radius...}, popup: {fields, title}, tooltip}
  HGGIS.geojson = function (map, data, opts) {
    var layer = L.geoJSON(data, {
      style: function (f) { return HGGIS.style(opts.style || {}, f.properties); },
      pointToLayer: function (f, latlng) {
        var s = HGGIS.style(opts.style || {}, f.properties);
        s.radius = radius(opts.points || {}, f.properties);
        return L.circleMarker(latlng, s);
      },
      onEachFeature: function (f, l) {
        if (opts.popup) {
          l.bindPopup(function () { return HGGIS.popupHtml(f.properties, opts.popup.fields, opts.popup.title); },
                      { maxWidth: 360 });
        }
        if (opts.label && f.properties[opts.label]) {
          l.bindTooltip(esc(f.properties[opts.label]), { permanent: true, direction: "center",
                                                          className: "hg-county-label", interactive: false });
        } else if (opts.tooltip && f.properties[opts.tooltip]) {
          l.bindTooltip(esc(f.properties[opts.tooltip]), { sticky: true });
        }
      }
    });
    if (opts.register) { HGGIS.layers[opts.register] = layer; }
    return layer;
  };

  // A vector-tile overlay (Leaflet.VectorGrid, SVG so that features stay clickable paths)
  HGGIS.vectorTiles = function (map, url, opts) {
    // Leaflet >= 1.8 dropped L.DomEvent.fakeStop, which Leaflet.VectorGrid 1.3 still calls.
    if (!L.DomEvent.fakeStop) { L.DomEvent.fakeStop = function (e) { e._stopped = true; }; }
    var styles = {};
    styles[opts.tileLayer] = function (props) { return HGGIS.style(opts.style || {}, props); };
    // above the GeoJSON overlays (park outlines), so that a click reaches the parcel
    if (!map.getPane("hgTiles")) { map.createPane("hgTiles").style.zIndex = 450; }
    var layer = L.vectorGrid.protobuf(url, {
      pane: "hgTiles",
      rendererFactory: L.svg.tile,
      vectorTileLayerStyles: styles,
      interactive: true,
      minZoom: opts.minZoom || 0,
      maxNativeZoom: 18,
      getFeatureId: function (f) { return f.properties[opts.idField || "code"]; },
      fetchOptions: { credentials: "same-origin" }
    });
    if (opts.popup) {
      layer.on("click", function (e) {
        var props = (e.layer && e.layer.properties) || {};
        L.popup({ maxWidth: 360 }).setLatLng(e.latlng)
          .setContent(HGGIS.popupHtml(props, opts.popup.fields, opts.popup.title)).openOn(map);
      });
    }
    if (opts.register) { HGGIS.layers[opts.register] = layer; }
    return layer;
  };

  // The distinct feature ids a vector-tile layer holds in its loaded tiles (for checks).
  HGGIS.tileFeatureIds = function (layer) {
    var ids = {};
    for (var key in (layer._vectorTiles || {})) {
      for (var id in (layer._vectorTiles[key]._features || {})) { ids[id] = true; }
    }
    return Object.keys(ids);
  };

  HGGIS.print = function () { window.print(); };
})();
