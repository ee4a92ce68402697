"""Local URLs for every JS/CSS file a folium map pulls in.

folium's ``Map`` and plugins point their ``default_js``/``default_css`` at CDNs. On a
government intranet those URLs do not resolve, so every map is passed through
``localize`` before rendering: each resource is rewritten to the copy this server serves
from ``node_modules`` (see api/assets.py), and a resource with no local copy is either
dropped (when nothing on our maps uses it) or refused with ``UnknownAsset``, so a new
plugin cannot quietly bring a CDN back. ``external_urls`` lists whatever absolute URL is
left in a rendered page, for the tests and for a last check before serving.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from branca.element import Element

NPM = "/assets/npm"

#: folium resource name → local URL.
LOCAL: dict[str, str] = {
    # folium.Map
    "leaflet": "/assets/leaflet/leaflet.js",
    "jquery": f"{NPM}/jquery/dist/jquery.min.js",
    "bootstrap": f"{NPM}/bootstrap/dist/js/bootstrap.bundle.min.js",
    "awesome_markers": f"{NPM}/leaflet.awesome-markers/dist/leaflet.awesome-markers.min.js",
    "leaflet_css": "/assets/leaflet/leaflet.css",
    "bootstrap_css": f"{NPM}/bootstrap/dist/css/bootstrap.min.css",
    "awesome_markers_font_css": f"{NPM}/@fortawesome/fontawesome-free/css/all.min.css",
    "awesome_markers_css": f"{NPM}/leaflet.awesome-markers/dist/leaflet.awesome-markers.css",
    # folium.plugins.Fullscreen
    "Control.Fullscreen.js": f"{NPM}/leaflet.fullscreen/Control.FullScreen.js",
    "Control.FullScreen.css": f"{NPM}/leaflet.fullscreen/Control.FullScreen.css",
    # folium.plugins.VectorGridProtobuf (and our own vector-tile element)
    "vectorGrid": f"{NPM}/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js",
    # the dashboard's charts
    "chartjs": f"{NPM}/chart.js/dist/chart.umd.min.js",
}

#: Resources folium adds that none of our maps use (Bootstrap 3 glyphicons; the CSS that
#: rotates awesome-markers icons, which only exists on folium's GitHub).
DROPPED: frozenset[str] = frozenset({"glyphicons_css", "awesome_rotate_css"})

_ABSOLUTE = re.compile(r"""https?://[^\s"'<>)\\]+""", re.IGNORECASE)
_PROTOCOL_RELATIVE = re.compile(r"""(?:src|href)\s*=\s*["']?(//[^\s"'<>]+)|url\(\s*["']?(//[^\s"')]+)""", re.IGNORECASE)
# XML namespace names are identifiers, not resources a browser fetches.
NAMESPACES = ("http://www.w3.org/",)


class UnknownAsset(LookupError):
    """A map element wants a CDN resource that has no local copy."""


def _rewrite(resources: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, url in resources:
        if url.startswith("/") and not url.startswith("//"):
            out.append((name, url))  # already local
        elif name in LOCAL:
            out.append((name, LOCAL[name]))
        elif name in DROPPED:
            continue
        else:
            raise UnknownAsset(f"no local copy of {name!r} ({url}): add it to package.json and maps/assets.LOCAL")
    return out


def walk(element: Element) -> Iterator[Element]:
    """The element and all its descendants (folium keeps children in ``_children``)."""
    yield element
    for child in list(getattr(element, "_children", {}).values()):
        yield from walk(child)


def localize(root: Element) -> Element:
    """Point every ``default_js``/``default_css`` below ``root`` at this server's copies."""
    for element in walk(root):
        for attr in ("default_js", "default_css"):
            resources = getattr(element, attr, None)
            if resources:
                setattr(element, attr, _rewrite(resources))
    return root


def external_urls(html: str, allowed_prefixes: Iterable[str] = ()) -> list[str]:
    """Absolute (http, https or protocol-relative) URLs in ``html`` not starting with an allowed prefix.

    Allowed prefixes are the configured tile servers' URL templates up to their first
    ``{`` placeholder, so a base map that the deployment chose is not reported.
    """
    allowed = tuple(p for p in allowed_prefixes if p) + NAMESPACES
    found = [m.group(0) for m in _ABSOLUTE.finditer(html)]
    found += [m.group(1) or m.group(2) for m in _PROTOCOL_RELATIVE.finditer(html)]
    return [url for url in found if not url.startswith(allowed)]
