"""Stored words as people read them: who acted, why, and reference text written by the system.

History keeps what was written (an audit record is never rewritten), and older writes
said "import parcels.zip" or "synthetic demo data, seed 2023"; actors are identities such
as ``cli:root (city_admin)``; the default evaluation model is named after a section of the
project's own notes. Pages and files translate them here, in one place, at the door.
"""

from __future__ import annotations

import re

from hggis.access.policy import ROLE_LABELS

#: Actors that are programs, not people.
SYSTEM_ACTORS: dict[str, str] = {
    "hggis demo load": "示例数据加载程序",
    "migration": "系统初始设置",
    "test setup": "系统初始设置",
}
CLI_PREFIX = "cli:"
_ACTOR_RX = re.compile(r"^(?P<name>.+?) \((?P<role>[a-z_]+)\)$")

#: Reasons older writes stored in English: (pattern, Chinese template).
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^import (?P<x>.+)$"), "导入 {x}"),
    (re.compile(r"^synthetic demo data, seed (?P<x>\d+)$"), "加载合成示例数据（随机种子 {x}）"),
    (re.compile(r"^demo constraints$"), "加载示例约束图层"),
)

#: Internal references inside stored reference text (model names, notes), and their reading.
_REFERENCES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"domain\.md\s*§\s*\d+\s*"), ""),
    (re.compile(r"\bmigration\s+\d{4}\b"), "系统初始设置"),
)


def actor_text(actor: str | None) -> str:
    """``cli:root (city_admin)`` → ``root（命令行，市级管理员）``; programs by their Chinese name."""
    if not actor:
        return "—"
    if actor in SYSTEM_ACTORS:
        return SYSTEM_ACTORS[actor]
    m = _ACTOR_RX.match(actor)
    name, role = (m.group("name"), m.group("role")) if m else (actor, None)
    if name in SYSTEM_ACTORS:
        return SYSTEM_ACTORS[name]
    via = ""
    if name.startswith(CLI_PREFIX):
        name, via = name[len(CLI_PREFIX):], "命令行"
    parts = [p for p in (via, ROLE_LABELS.get(role, role) if role else None) if p]
    return f"{name}（{'，'.join(parts)}）" if parts else name


def reason_text(reason: str | None) -> str:
    """A history reason in Chinese: the known English forms of older writes are translated."""
    if not reason:
        return ""
    for rx, template in _REASONS:
        m = rx.match(reason.strip())
        if m:
            return template.format(**m.groupdict())
    return reason


def plain_text(value: str | None) -> str:
    """Reference text without the project's internal references (e.g. "domain.md §5")."""
    if not value:
        return value or ""
    out = value
    for rx, repl in _REFERENCES:
        out = rx.sub(repl, out)
    return out
