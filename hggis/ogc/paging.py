"""Paging of item lists: opaque cursors and the numbers a page reports.

Pages are ordered by the collection's feature id (unique and indexed). ``next`` and
``prev`` links carry a cursor (the id after or before which to continue), so following
them is stable when rows are added meanwhile and stays fast at any depth: it is an index
range scan, not an OFFSET that reads and discards every earlier row. ``offset`` is still
accepted for clients that compute pages themselves.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from hggis.inputs import INT4_MAX
from hggis.ogc.errors import invalid


@dataclass(frozen=True)
class Cursor:
    direction: str  # "after" or "before"
    key: Any  # a feature id (int or str)

    def encode(self) -> str:
        raw = json.dumps([self.direction[0], self.key], separators=(",", ":"), ensure_ascii=False)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str, key_type: type) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        tag, key = json.loads(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise invalid("cursor", "not a cursor of this API (use the next/prev links as given)") from None
    if tag not in ("a", "b") or not isinstance(key, key_type) or isinstance(key, bool):
        raise invalid("cursor", "not a cursor of this collection")
    if (isinstance(key, int) and not -INT4_MAX <= key <= INT4_MAX) or (isinstance(key, str) and "\x00" in key):
        raise invalid("cursor", "not a cursor of this collection")  # a forged key the database cannot compare
    return Cursor("after" if tag == "a" else "before", key)
