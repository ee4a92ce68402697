"""Checks of the national identifiers hggis stores (domain.md §8).

The same rules exist as SQL functions (``hggis.db.sqlfunctions``) so that the database
refuses a bad code even when it arrives by a path that skipped Python.
"""

from __future__ import annotations

import re

from hggis.errors import Invalid

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
PARCEL_CODE_RE = re.compile(r"^([0-9]{6})([0-9]{3})([0-9]{3})([GJZ][A-Z])([0-9]{5})$")


class InvalidIdentifier(Invalid):
    """A code that fails its format or check character; the message says which and why."""


def credit_code_check_char(first17: str) -> str:
    """Check character of a 统一社会信用代码 (GB 32100-2015) from its first 17 characters."""
    total = sum(CREDIT_ALPHABET.index(ch) * w for ch, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> str:
    """Return the normalised code, or raise InvalidIdentifier naming the fault."""
    norm = (code or "").strip().upper()
    if len(norm) != 18:
        raise InvalidIdentifier(f"统一社会信用代码 {code!r}：应为 18 位，实为 {len(norm)} 位")
    bad = sorted({ch for ch in norm if ch not in CREDIT_ALPHABET})
    if bad:
        raise InvalidIdentifier(f"统一社会信用代码 {code!r}：含不允许的字符 {''.join(bad)}")
    expected = credit_code_check_char(norm[:17])
    if norm[17] != expected:
        raise InvalidIdentifier(
            f"统一社会信用代码 {code!r}：校验码为 {norm[17]!r}，应为 {expected!r}"
        )
    return norm


def make_credit_code(first17: str) -> str:
    """Complete 17 characters with their check character (used by the demo generator and tests)."""
    return first17 + credit_code_check_char(first17)


def validate_parcel_code(code: str, adcode: str | None = None) -> str:
    """Check a 宗地代码 (GB/T 37346): county + 地籍区 + 地籍子区 + feature code + serial."""
    norm = (code or "").strip().upper()
    m = PARCEL_CODE_RE.match(norm)
    if not m:
        raise InvalidIdentifier(
            f"宗地代码 {code!r}：应为 19 位：6 位县级行政区划代码、3 位地籍区、"
            "3 位地籍子区、2 位宗地特征码（G/J/Z 加权利类型）、5 位宗地顺序号"
        )
    if not m.group(1).startswith("4211"):
        raise InvalidIdentifier(f"宗地代码 {code!r}：县级代码 {m.group(1)} 不在黄冈市（4211xx）")
    if adcode is not None and m.group(1) != adcode:
        raise InvalidIdentifier(f"宗地代码 {code!r}：县级代码 {m.group(1)} 与所属县（市、区）{adcode} 不符")
    return norm
