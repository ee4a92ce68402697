"""Chinese wording of service refusals that name a field, for messages shown beside form fields.

The services speak English to the API and the CLI (``field: reason``); a page shows the
same refusal in Chinese next to the field. Unknown reasons are shown as they are.
"""

from __future__ import annotations

SITE_REASONS: tuple[tuple[str, str], ...] = (
    ("must be positive", "最小面积须大于 0 亩"),
    ("is larger than the maximum", "最小面积不能大于最大面积"),
    ("at most", "面积上限过大"),
    ("unknown park", "所选园区不存在"),
    ("is not in county", "所选园区不在所选县（市、区）内"),
    ("unknown industry", "未知的产业"),
    ("maximum slope", "最大坡度应在 0 至 90 度之间"),
    ("give one reference", "参照只能选一种：坐标点、园区或图层"),
    ("is not a number", "应为数字"),
    ("finite number", "应为有限的数字"),
    ("unknown county", "未知的县（市、区）"),
)


def site_reason(reason: str) -> str:
    for needle, chinese in SITE_REASONS:
        if needle in reason:
            return chinese
    return reason
