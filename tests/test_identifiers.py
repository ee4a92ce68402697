"""统一社会信用代码 and 宗地代码 checks (domain.md §8)."""

from __future__ import annotations

import pytest

from hggis.identifiers import (
    InvalidIdentifier,
    credit_code_check_char,
    validate_credit_code,
    validate_parcel_code,
)

# Published example codes whose check character is known independently of this code.
KNOWN_VALID = ["91350100M000100Y43", "91110000600037341L", "9144030071526726XG"]


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_known_codes_validate(code):
    assert validate_credit_code(code) == code
    assert credit_code_check_char(code[:17]) == code[17]


def test_wrong_check_character_named():
    with pytest.raises(InvalidIdentifier, match="校验码为 '2'，应为 '3'"):
        validate_credit_code("91350100M000100Y42")


@pytest.mark.parametrize(
    ("code", "reason"),
    [("9135010", "应为 18 位"), ("91350100M000100YI3", "不允许的字符 I"), ("91350100M0001O0Y43", "不允许的字符 O")],
)
def test_malformed_credit_codes(code, reason):
    with pytest.raises(InvalidIdentifier, match=reason):
        validate_credit_code(code)


def test_lowercase_is_normalised():
    assert validate_credit_code(" 91350100m000100y43 ") == "91350100M000100Y43"


def test_parcel_code_format():
    assert validate_parcel_code("421102001002GB00031") == "421102001002GB00031"
    with pytest.raises(InvalidIdentifier, match="应为 19 位"):
        validate_parcel_code("421102001002GB0003")
    with pytest.raises(InvalidIdentifier, match="不在黄冈市"):
        validate_parcel_code("420102001002GB00031")
    with pytest.raises(InvalidIdentifier, match="不符"):
        validate_parcel_code("421102001002GB00031", adcode="421181")
