/* 招商地图: clusters at city zoom, polygons (vector tiles) when zoomed in, a list beside the map.
 *
 * The page (maps/land.py) passes the filters, the zoom where polygons start and the colour of
 * each suitable industry. Clusters and the list come from /maps/land/clusters.json and
 * /maps/land/list.json for the current view and filters, so the list follows the map. A
 * cluster is a disc whose ring shows the share of each industry in it (the legend lists the
 * industries the land has). document.body.dataset.drawn is set once the first view is drawn
 * (clusters or tiles, and the list): the browser tests and the benchmark wait for it.
 */
(function () {
  "use strict";
  var HGGIS = window.HGGIS;
  var esc = HGGIS.esc;

  function query(extra) {
    var params = new URLSearchParams();
    var base = HGGIS.land.config.query;
    for (var k in base) { params.set(k, base[k]); }
    for (var e in extra) { params.set(e, extra[e]); }
    return params.toString();
  }

  function bbox(map) {
    var b = map.getBounds().pad(0.05);
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(",");
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(url + " " + r.status); }
      return r.json();
    });
  }

  // the ring of a cluster: one arc per industry, by count
  function ring(industries, palette) {
    var total = 0, k;
    for (k in industries) { total += industries[k]; }
    var stops = [], at = 0;
    for (k in industries) {
      var next = at + industries[k] / total * 100;
      stops.push((palette[k] || "#9e9e9e") + " " + at.toFixed(2) + "% " + next.toFixed(2) + "%");
      at = next;
    }
    return "conic-gradient(" + stops.join(",") + ")";
  }

  function clusterMarker(c, cfg) {
    var size = Math.round(Math.min(64, 26 + Math.sqrt(c.count) * 2));
    var colors = Object.keys(c.industries).map(function (k) { return cfg.palette[k] || "#9e9e9e"; });
    var html = '<div class="hg-cluster" style="width:' + size + "px;height:" + size + "px;background:" +
      ring(c.industries, cfg.palette) + '" data-colors="' + esc(colors.join(" ")) + '" data-count="' + c.count +
      '"><span>' + c.count + "</span></div>";
    var marker = L.marker([c.lat, c.lon], {
      icon: L.divIcon({ html: html, className: "hg-cluster-icon", iconSize: [size, size] }), pane: "hgClusters",
      title: c.count + " 宗，" + c.area_mu + " 亩", keyboard: true
    });
    var lines = Object.keys(c.industries).map(function (k) {
      return "<tr><th>" + esc(cfg.names[k] || k) + "</th><td>" + c.industries[k] + " 宗</td></tr>";
    });
    marker.bindTooltip("<b>" + c.count + " 宗，合计 " + c.area_mu.toLocaleString("zh-CN") + " 亩</b><table>" +
                       lines.join("") + "</table>点击放大", { direction: "top" });
    marker.on("click", function () { HGGIS.map.fitBounds(c.bounds, { padding: [30, 30], maxZoom: cfg.polygonZoom + 1 }); });
    marker.hgCluster = c;
    return marker;
  }

  var Land = HGGIS.land = {
    sort: "area", order: "desc", rows: [], generation: 0,

    init: function (map, cfg) {
      this.map = map;
      this.config = cfg;
      // above the county names (tooltip pane, 650), below popups (700)
      map.createPane("hgClusters").style.zIndex = 660;
      this.clusters = L.layerGroup().addTo(map);
      HGGIS.layers.land_clusters = this.clusters;
      this.highlight = L.layerGroup().addTo(map);
      HGGIS.layers.highlight = this.highlight;
      this.bindList();
      this.bindToggles();
      var self = this;
      map.on("moveend", function () { self.refresh(); });
      // the tile layer is created by the map's own script after this one runs
      setTimeout(function () { self.refresh(); }, 0);
    },

    mode: function () { return this.map.getZoom() >= this.config.polygonZoom ? "polygons" : "clusters"; },

    refresh: function () {
      var self = this, map = this.map, gen = ++this.generation;
      var tiles = HGGIS.layers.land;
      var done = [];
      if (this.mode() === "polygons") {
        this.clusters.clearLayers();
        if (tiles && !map.hasLayer(tiles)) { map.addLayer(tiles); }
        if (tiles) {
          done.push(new Promise(function (resolve) {
            if (!tiles.isLoading || !tiles.isLoading()) { setTimeout(resolve, 50); }
            tiles.once("load", resolve);
            setTimeout(resolve, 10000);
          }));
        }
      } else {
        if (tiles && map.hasLayer(tiles)) { map.removeLayer(tiles); }
        done.push(fetchJson(this.config.clustersUrl + "?" + query({ zoom: map.getZoom(), bbox: bbox(map) }))
          .then(function (data) {
            if (gen !== self.generation) { return; }
            self.clusters.clearLayers();
            data.clusters.forEach(function (c) { self.clusters.addLayer(clusterMarker(c, self.config)); });
          }));
      }
      done.push(this.loadList(gen));
      Promise.all(done).then(function () {
        if (gen !== self.generation) { return; }
        document.body.dataset.mode = self.mode();
        document.body.dataset.drawn = String(gen);
        if (!HGGIS.firstDrawn && window.performance) { HGGIS.firstDrawn = performance.now(); }
      }).catch(function (err) { HGGIS.errors.push(String(err)); document.body.dataset.failed = String(err); });
    },

    loadList: function (gen) {
      var self = this;
      var url = this.config.listUrl + "?" + query({ bbox: bbox(this.map), sort: this.sort, order: this.order });
      return fetchJson(url).then(function (data) {
        if (gen !== self.generation) { return; }
        self.rows = data.rows;
        self.renderList(data);
      });
    },

    renderList: function (data) {
      var cfg = this.config;
      var body = document.getElementById("hg-list-rows");
      body.innerHTML = data.rows.map(function (r, i) {
        var color = cfg.palette[r.industry_code] || "#9e9e9e";
        return '<tr data-code="' + esc(r.code) + '" data-index="' + i + '" tabindex="0">' +
          '<td><a href="' + esc(r.href) + '">' + esc(r.code) + "</a></td>" +
          '<td class="hg-num">' + Number(r.area_mu).toLocaleString("zh-CN", { minimumFractionDigits: 1, maximumFractionDigits: 1 }) + "</td>" +
          "<td>" + esc(r.county || "") + "</td>" +
          '<td><span class="hg-sw" style="background:' + esc(color) + '"></span>' + esc(r.intended_industry || "未指定产业") + "</td></tr>";
      }).join("");
      var count = document.getElementById("hg-list-count");
      count.textContent = data.total > data.shown ? "视野内 " + data.total + " 宗，列出面积等排序前 " + data.shown + " 宗（放大或筛选看其余）"
        : "视野内 " + data.total + " 宗";
      document.querySelectorAll(".hg-list th[aria-sort]").forEach(function (th) { th.removeAttribute("aria-sort"); });
      var th = document.querySelector('.hg-list button[data-sort="' + this.sort + '"]');
      if (th) { th.parentNode.setAttribute("aria-sort", this.order === "desc" ? "descending" : "ascending"); }
      if (this.selected) { this.mark(this.selected); }
    },

    bindList: function () {
      var self = this;
      document.querySelectorAll(".hg-list button[data-sort]").forEach(function (b) {
        b.addEventListener("click", function () {
          var key = b.getAttribute("data-sort");
          self.order = self.sort === key && self.order === "desc" ? "asc" : (self.sort === key ? "desc" : (key === "area" ? "desc" : "asc"));
          self.sort = key;
          self.loadList(self.generation);
        });
      });
      var body = document.getElementById("hg-list-rows");
      function pick(e) {
        if (e.target.closest("a")) { return; }  // the code's link opens the parcel page
        var tr = e.target.closest("tr[data-code]");
        if (tr) { self.select(self.rows[Number(tr.getAttribute("data-index"))]); }
      }
      body.addEventListener("click", pick);
      body.addEventListener("keydown", function (e) { if (e.key === "Enter") { pick(e); } });
    },

    // a row → the map goes to the parcel and outlines it; the row stays marked
    select: function (row) {
      if (!row) { return; }
      this.selected = row.code;
      this.highlight.clearLayers();
      var outline = L.geoJSON(row.outline, { style: { color: "#ffeb3b", weight: 4, fill: false, opacity: 1 },
                                              interactive: false });
      outline.hgCode = row.code;
      this.highlight.addLayer(outline);
      this.map.fitBounds(row.bounds, { maxZoom: 17, padding: [40, 40], animate: false });
      if (document.body.classList.contains("hg-show-list") && window.matchMedia("(max-width: 700px)").matches) {
        document.body.classList.remove("hg-show-list");
        var toggle = document.querySelector('.hg-toggle[data-panel="list"]');
        if (toggle) { toggle.setAttribute("aria-expanded", "false"); }
        this.map.invalidateSize();
      }
      this.mark(row.code);
    },

    mark: function (code) {
      document.querySelectorAll("#hg-list-rows tr").forEach(function (tr) {
        tr.classList.toggle("hg-active", tr.getAttribute("data-code") === code);
      });
    },

    // phone: filters, legend and list open behind buttons
    bindToggles: function () {
      var self = this;
      document.querySelectorAll(".hg-toggle").forEach(function (b) {
        b.addEventListener("click", function () {
          var cls = "hg-show-" + b.getAttribute("data-panel");
          var on = !document.body.classList.contains(cls);
          document.body.classList.toggle(cls, on);
          b.setAttribute("aria-expanded", String(on));
          self.map.invalidateSize();
        });
      });
    }
  };
})();
