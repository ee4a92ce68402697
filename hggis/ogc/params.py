"""Query parameters of the OGC endpoints, parsed and checked without any web framework.

Unknown parameters are refused with 400, as OGC API – Features Part 1 requires, so a
typo (``bbbox``) never silently returns the whole collection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hggis.inputs import MAX_OFFSET, is_ascii_digits
from hggis.ogc.crs import BBox, Crs, parse_bbox, parse_crs
from hggis.ogc.errors import invalid
from hggis.ogc.paging import Cursor, decode_cursor

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
FORMATS = ("json", "html")
ITEMS_PARAMS = frozenset({"f", "bbox", "bbox-crs", "crs", "limit", "offset", "cursor", "datetime"})
ITEM_PARAMS = frozenset({"f", "crs"})
PLAIN_PARAMS = frozenset({"f"})

_INSTANT = r"([0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?)"
_DATETIME = re.compile(rf"^({_INSTANT}|({_INSTANT}|\.\.|)/({_INSTANT}|\.\.|))$")

Params = Mapping[str, list[str]]


def single(params: Params, name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise invalid(name, "given more than once")
    return values[0]


def check_known(params: Params, allowed: Iterable[str]) -> None:
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise invalid(unknown[0], f"unknown parameter; this endpoint accepts {', '.join(sorted(allowed))}")


def output_format(params: Params, accept: str | None, formats: tuple[str, ...] = FORMATS) -> str:
    """``f`` wins; otherwise a browser (Accept: text/html) gets HTML; everything else JSON."""
    f = single(params, "f")
    if f is not None:
        f = "json" if f in ("geojson", "application/geo+json", "application/json") else f
        if f not in formats:
            raise invalid("f", f"one of {', '.join(formats)}")
        return f
    if "html" in formats and accept and "text/html" in accept:
        return "html"
    return "json"


def _int(params: Params, name: str, default: int, low: int, high: int | None) -> int:
    raw = single(params, name)
    if raw is None:
        return default
    if not is_ascii_digits(raw.removeprefix("-")):  # int() also takes "１２", " 12" and "1_0"
        raise invalid(name, "an integer is required")
    value = int(raw)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise invalid(name, f"must be {bound}")
    return value


@dataclass(frozen=True)
class ItemsQuery:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    cursor: Cursor | None = None
    bbox: BBox | None = None
    bbox_crs: Crs | None = None
    crs: Crs | None = None
    datetime: str | None = None


def items_query(params: Params, key_type: type) -> ItemsQuery:
    """Parse an items request; every refusal is a 400 naming the parameter."""
    check_known(params, ITEMS_PARAMS)
    limit = _int(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int(params, "offset", 0, 0, MAX_OFFSET)
    raw_cursor = single(params, "cursor")
    if raw_cursor is not None and single(params, "offset") is not None:
        raise invalid("cursor", "use either cursor or offset, not both")
    cursor = decode_cursor(raw_cursor, key_type) if raw_cursor is not None else None
    crs = parse_crs(single(params, "crs"), "crs")
    raw_bbox_crs = single(params, "bbox-crs")
    bbox_crs = parse_crs(raw_bbox_crs, "bbox-crs")
    raw_bbox = single(params, "bbox")
    if raw_bbox is None and raw_bbox_crs is not None:
        raise invalid("bbox-crs", "only meaningful together with bbox")
    bbox = parse_bbox(raw_bbox, bbox_crs)
    dt = single(params, "datetime")
    if dt is not None and not _DATETIME.match(dt):
        raise invalid("datetime", "an RFC 3339 instant or interval (start/end, '..' for open) is required")
    return ItemsQuery(limit, offset, cursor, bbox, bbox_crs, crs, dt)


def item_crs(params: Params) -> Crs:
    check_known(params, ITEM_PARAMS)
    return parse_crs(single(params, "crs"), "crs")
