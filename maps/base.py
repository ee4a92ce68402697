"""The common frame of every map page: header, base map, overlays, legend, controls, print view.

A map is built as a ``MapFrame``: a folium ``Map`` with no base tiles by default (county
outlines on a plain background, so it works on an isolated intranet), a scale bar, a
full-screen button, a layer control, a legend, a header with the title, the filters, the
data's date ("示例数据" for the demo) and a 打印 button with a print stylesheet. Overlays
are drawn by ``/static/hggis-maps.js`` from data and small style specs, either inline
GeoJSON or vector tiles (hggis.tiles), with the same popups either way.

With the AMap base map every overlay is moved WGS84 → GCJ-02 on the way out: inline
GeoJSON here (``hggis.mapdata.common.to_gcj02``), vector tiles by the tile service
(``shift=gcj02``, see hggis.tiles).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any, cast

import folium
from branca.element import CssLink, Element, Figure, JavascriptLink, MacroElement
from folium.map import Layer
from folium.plugins import Fullscreen
from jinja2 import Template

from hggis.config import Settings, get_settings
from hggis.geo import AREA_DECIMALS
from hggis.mapdata.common import DataNote, to_gcj02
from maps.assets import LOCAL, external_urls, localize

#: The plan's five industries (colours of parks, clusters and legends).
INDUSTRY_COLORS: dict[str, str] = {
    "agri_food": "#2e7d32",
    "building_materials": "#8d6e63",
    "pharma_chem": "#8e24aa",
    "equipment": "#1565c0",
    "optoelectronics": "#f57c00",
}
TIER_LABELS = {"千亿": "千亿级优势产业集群", "百亿": "百亿级特色产业集群", "十亿": "十亿级块状经济"}
HOME = "/"


class BasemapError(ValueError):
    """The configured base map cannot be used (e.g. 天地图 without a key)."""


@dataclass(frozen=True)
class TileSource:
    name: str
    url: str
    attribution: str
    subdomains: str = "abc"
    overlay: bool = False
    max_native_zoom: int | None = None  # a package's deepest zoom: Leaflet scales its tiles beyond it
    min_native_zoom: int | None = None


@dataclass(frozen=True)
class Basemap:
    kind: str
    sources: tuple[TileSource, ...]
    shift: str = "none"  # "gcj02" for AMap: overlays move to AMap's datum

    def url_prefixes(self) -> list[str]:
        """What external URLs a page may contain: the tile templates up to the first placeholder."""
        out = []
        for s in self.sources:
            first = s.url.split("{", 1)[0]
            out.append(first)
            for sub in s.subdomains:
                out.append(s.url.replace("{s}", sub).split("{", 1)[0])
        return out


TIANDITU_URL = (
    "http://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
    "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)


def local_basemap(settings: Settings | None = None) -> Basemap:
    """The offline package served by this app (hggis.basemap), or none when there is no usable raster one.

    A vector package is served at /basemap/…pbf but not drawn: that needs a style renderer,
    which the maps do not carry (README, 底图).
    """
    from hggis import basemap

    pkg = basemap.current(settings)
    if pkg is None or not pkg.raster:
        return Basemap("none", ())
    attribution = html.escape(pkg.attribution or pkg.name) + "（离线底图）"
    return Basemap("local", (TileSource(f"离线底图：{pkg.name}", pkg.url_template(), attribution, "",
                                        max_native_zoom=pkg.max_zoom, min_native_zoom=pkg.min_zoom),))


def basemap_from(settings: Settings | None = None) -> Basemap:
    """The configured base map (HGGIS_BASEMAP): auto, local, none, tianditu (key mandatory), osm or amap."""
    s = settings or get_settings()
    kind = s.hggis_basemap
    if kind in ("auto", "local"):
        return local_basemap(s)
    if kind == "none":
        return Basemap("none", ())
    if kind == "tianditu":
        if not s.tianditu_key:
            raise BasemapError("HGGIS_BASEMAP=tianditu needs TIANDITU_KEY (the 天地图 browser key, tk)")

        def tdt(layer: str, name: str, overlay: bool) -> TileSource:
            url = TIANDITU_URL.replace("{layer}", layer).replace("{key}", s.tianditu_key or "")
            return TileSource(name, url, "天地图 © 国家地理信息公共服务平台", "01234567", overlay)

        return Basemap("tianditu", (
            tdt("vec", "天地图 矢量", False), tdt("cva", "天地图 矢量注记", True),
            tdt("img", "天地图 影像", False), tdt("cia", "天地图 影像注记", True),
        ))
    if kind == "osm":
        return Basemap("osm", (TileSource("OpenStreetMap", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                                          "© OpenStreetMap contributors", ""),))
    if kind == "amap":
        return Basemap("amap", (TileSource(
            "高德地图", "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
            "© 高德地图（GCJ-02，叠加数据已转换）", "1234"),), shift="gcj02")
    raise BasemapError(f"unknown HGGIS_BASEMAP {kind!r}")


class _Overlay(Layer):
    """An overlay drawn by hggis-maps.js; the LayerControl lists it by name."""

    def __init__(self, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)


class GeoJsonOverlay(_Overlay):
    _template = Template(
        """{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = HGGIS.geojson({{ this._parent.get_name() }}, {{ this.data|tojson }},
                                                  {{ this.opts|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, name: str, data: dict[str, Any], opts: dict[str, Any], show: bool = True) -> None:
        super().__init__(name, show)
        self._name = "GeoJsonOverlay"
        self.data = data
        self.opts = opts


class TileOverlay(_Overlay):
    default_js = [("vectorGrid", LOCAL["vectorGrid"])]
    _template = Template(
        """{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = HGGIS.vectorTiles({{ this._parent.get_name() }}, {{ this.url|tojson }},
                                                      {{ this.opts|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, name: str, url: str, opts: dict[str, Any], show: bool = True) -> None:
        super().__init__(name, show)
        self._name = "TileOverlay"
        self.url = url
        self.opts = opts

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # branca returns nothing either
        figure = cast(Figure, self.get_root())
        for name, url in self.default_js:
            figure.header.add_child(JavascriptLink(url), name=name)
        super().render(**kwargs)


class Legend(MacroElement):
    """A legend control (bottom right) from sections of (swatch kind, colour, label)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function () {
          var legend = L.control({position: "bottomright"});
          legend.onAdd = function () {
            var div = L.DomUtil.create("div", "hg-legend");
            div.innerHTML = {{ this.html|tojson }};
            L.DomEvent.disableClickPropagation(div);
            return div;
          };
          legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}"""
    )

    def __init__(self, sections: list[tuple[str, list[tuple[str, str, str]]]]) -> None:
        super().__init__()
        self._name = "Legend"
        parts = []
        for title, entries in sections:
            rows = "".join(
                f'<div><span class="hg-sw hg-{html.escape(kind)}" style="{_swatch_style(kind, color)}"></span>'
                f"{html.escape(label)}</div>"
                for kind, color, label in entries
            )
            parts.append(f"<section><h4>{html.escape(title)}</h4>{rows}</section>")
        self.html = "".join(parts)


def _swatch_style(kind: str, color: str) -> str:
    color = html.escape(color)
    if kind in ("line", "dash"):
        return f"border-color:{color};background:none"
    return f"background:{color}"


class Script(MacroElement):
    """A few lines of page script after the map exists (``{map}`` is the map variable)."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "Script"
        self.code = code

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # branca returns nothing either
        assert self._parent is not None  # rendered only once added to a map
        self.code = self.code.replace("{map}", self._parent.get_name())
        super().render(**kwargs)


@dataclass
class Header:
    """The page's header panel: title, note, filter form (HTML from the map module), links."""

    title: str
    note: DataNote
    form_html: str = ""
    summary: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None

    def html(self) -> str:
        demo = f' <span class="hg-demo">{html.escape(self.note.demo_label or "示例数据")}</span>' if self.note.demo else ""
        note = html.escape(self.note.text().replace(self.note.demo_label or "\0", "").rstrip("；"))
        links = " ".join(f'<a href="{html.escape(h)}">{html.escape(t)}</a>' for t, h in self.links)
        out = (
            '<header class="hg-head" role="banner">'
            f'<h1>{html.escape(self.title)}</h1>'
            f'<span class="hg-note">{note}{demo}</span>'
            f'{self.form_html}'
            f'<span class="hg-summary">{html.escape(self.summary)}</span>'
            f'<span class="hg-spacer"></span>'
            f'<span class="hg-actions"><a href="{HOME}">返回首页</a> {links} '
            '<button type="button" onclick="HGGIS.print()">打印</button></span>'
            "</header>"
        )
        if self.error:
            out += f'<div class="hg-error" role="alert">{html.escape(self.error)}</div>'
        return out


class MapFrame:
    """A folium map with the hggis frame; add overlays, then ``render()`` the page."""

    def __init__(self, header: Header, bounds: list[list[float]] | None, basemap: Basemap | None = None,
                 zoom: int = 9, body_class: str = "") -> None:
        self.header = header
        self.body_class = body_class
        self.extras: list[str] = []  # HTML after the map (a list beside it)
        self.page_js: list[str] = []  # page scripts after hggis-maps.js
        self.basemap = basemap or basemap_from()
        center = [30.6, 115.2]
        if bounds:
            center = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
        self.map = folium.Map(location=center, zoom_start=zoom, tiles=None, control_scale=False, prefer_canvas=False)
        # Only Leaflet: our pages use no Bootstrap, jQuery, Font Awesome or awesome-markers
        # (folium's defaults), and every kilobyte counts on a slow intranet (page < 2 MB).
        self.map.default_js = [(n, u) for n, u in folium.Map.default_js if n == "leaflet"]
        self.map.default_css = [(n, u) for n, u in folium.Map.default_css if n == "leaflet_css"]
        # the map's own zoom range: without it Leaflet takes it from its layers (a tile layer's
        # minimum zoom would lock the whole map)
        self.map.options["minZoom"] = 6
        self.map.options["maxZoom"] = 19
        if bounds:
            self.map.fit_bounds(self._shift_bounds(bounds))
        Fullscreen(position="topleft", title="全屏", title_cancel="退出全屏").add_to(self.map)
        for src in self.basemap.sources:
            native: dict[str, Any] = {k: v for k, v in (("max_native_zoom", src.max_native_zoom),
                                        ("min_native_zoom", src.min_native_zoom)) if v is not None}
            folium.TileLayer(tiles=src.url, attr=src.attribution, name=src.name, overlay=src.overlay,
                             subdomains=src.subdomains or "abc", max_zoom=19, show=not src.overlay or
                             src.name.endswith("矢量注记"), **native).add_to(self.map)
        self.legend_sections: list[tuple[str, list[tuple[str, str, str]]]] = []
        self.script("HGGIS.map = {map};"
                    f"HGGIS.areaDecimals = {AREA_DECIMALS};"
                    "L.control.scale({metric: true, imperial: false, position: 'bottomleft'}).addTo({map});"
                    "{map}.attributionControl.setPrefix('Leaflet');")

    def _shift_bounds(self, bounds: list[list[float]]) -> list[list[float]]:
        if self.basemap.shift != "gcj02":
            return bounds
        pts = to_gcj02({"type": "MultiPoint", "coordinates": [[b[1], b[0]] for b in bounds]})
        return [[c[1], c[0]] for c in pts["coordinates"]]

    # -- overlays ---------------------------------------------------------------------------
    def geojson(self, name: str, data: dict[str, Any], style: dict[str, Any], popup: dict[str, Any] | None = None,
                register: str | None = None, show: bool = True, points: dict[str, Any] | None = None,
                tooltip: str | None = None, label: str | None = None) -> GeoJsonOverlay:
        if self.basemap.shift == "gcj02":
            data = to_gcj02(data)
        opts = {"style": style, "popup": popup, "register": register, "points": points or {}, "tooltip": tooltip,
                "label": label}
        overlay = GeoJsonOverlay(name, data, opts, show=show)
        overlay.add_to(self.map)
        return overlay

    def tiles(self, name: str, url: str, tile_layer: str, style: dict[str, Any], popup: dict[str, Any] | None = None,
              register: str | None = None, show: bool = True, min_zoom: int = 0) -> TileOverlay:
        if self.basemap.shift == "gcj02":
            url += ("&" if "?" in url else "?") + "shift=gcj02"
        # the server sends empty tiles below the layer's minimum zoom; the client must not
        # get a minZoom (Leaflet would clamp the whole map to it)
        opts = {"tileLayer": tile_layer, "style": style, "popup": popup, "register": register}
        overlay = TileOverlay(name, url, opts, show=show)
        overlay.add_to(self.map)
        return overlay

    def counties(self, data: dict[str, Any]) -> None:
        """County outlines with their names, always first (below everything)."""
        self.geojson("县级行政区界线", data, {"color": "#555", "weight": 1.5, "fillColor": "#ffffff", "fillOpacity": 0.35},
                     register="counties", label="name")
        self.legend("底图", [("line", "#555", "县级行政区界线")])

    def legend(self, title: str, entries: list[tuple[str, str, str]]) -> None:
        self.legend_sections.append((title, entries))

    def script(self, code: str) -> None:
        Script(code).add_to(self.map)

    def aside(self, markup: str) -> None:
        """HTML placed after the map in the page (e.g. a list beside it)."""
        self.extras.append(markup)

    # -- output -------------------------------------------------------------------------------
    def render(self) -> str:
        folium.LayerControl(collapsed=False, position="topright").add_to(self.map)
        if self.legend_sections:
            Legend(self.legend_sections).add_to(self.map)
        root = cast(Figure, self.map.get_root())
        root.header.add_child(Element('<meta name="viewport" content="width=device-width, initial-scale=1">'),
                              name="hg_viewport")
        root.header.add_child(CssLink("/static/hggis-maps.css"), name="hg_css")
        root.header.add_child(Element('<link rel="icon" href="data:,">'), name="hg_icon")
        root.header.add_child(Element(f"<title>{html.escape(self.header.title)} · 黄冈市工业用地与园区信息系统</title>"),
                              name="hg_title")
        root.html.add_child(Element(self.header.html()), name="hg_header", index=0)
        # after Leaflet (loaded in the head by folium), before the map's own script
        root.html.add_child(JavascriptLink("/static/hggis-maps.js"), name="hg_js")
        for n, markup in enumerate(self.extras):
            root.html.add_child(Element(markup), name=f"hg_extra{n}")
        for n, url in enumerate(self.page_js):
            root.html.add_child(JavascriptLink(url), name=f"hg_page_js{n}")
        localize(root)
        page = root.render()
        page = page.replace("<html>", '<html lang="zh-CN">', 1).replace(
            "<body>", f'<body class="hg-map-page {html.escape(self.body_class)}">'.replace(" \">", "\">"), 1)
        leftover = external_urls(page, self.basemap.url_prefixes())
        if leftover:
            raise RuntimeError(f"map page would load external resources: {leftover[:3]}")
        return page


def popup(fields: list[tuple[str, str, str]], title: str | None = None) -> dict[str, Any]:
    """A popup spec: (property, 中文标签, kind) rows; kinds in hggis-maps.js (mu = 亩 to 0.1)."""
    return {"fields": [list(f) for f in fields], "title": title}


def options_html(options: list[tuple[str, str]], selected: str | None, empty: str | None = "全部") -> str:
    out = [f'<option value="">{html.escape(empty)}</option>'] if empty is not None else []
    for value, label in options:
        sel = " selected" if value == selected else ""
        out.append(f'<option value="{html.escape(value)}"{sel}>{html.escape(label)}</option>')
    return "".join(out)


def json_script(name: str, value: Any) -> str:
    """A JSON value for page scripts, safe inside <script>."""
    return f"var {name} = " + json.dumps(value, ensure_ascii=False).replace("</", "<\\/") + ";"
