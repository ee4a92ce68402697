"""The linters are part of the suite: a finding fails `make test` like a failing test would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    """pyflakes, pycodestyle, import order, pyupgrade and bugbear, as configured in pyproject.toml."""
    done = _run(str(BIN / "ruff"), "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing():
    """The packages type-check (files and options in pyproject.toml's [tool.mypy])."""
    done = _run(str(BIN / "mypy"), "--no-incremental")
    assert done.returncode == 0, done.stdout + done.stderr


def _names(requirements: list[str]) -> set[str]:
    import re

    return {re.split(r"[\[<>=!~; ]", r.strip(), maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_every_declared_dependency_is_locked_with_hashes():
    """`make` installs requirements.lock with --require-hashes: a dependency added to pyproject.toml
    but not locked would be missing on a fresh machine."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = _names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared |= _names(extra)
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    entries: dict[str, str] = {}  # package → its block (pin line, hashes, comments)
    for line in lock.splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name = line.split("==")[0].lower().replace("_", "-")
            entries[name] = line
        elif entries:
            entries[name] += "\n" + line
    assert declared - set(entries) == set(), "run `make lock`"
    unhashed = [name for name, block in entries.items() if "--hash=sha256:" not in block]
    assert unhashed == []


def test_no_import_cycles_and_the_core_does_not_import_its_doors():
    """The CLI assembles commands and the commands share hggis.terminal; nothing imports back."""
    from tests.import_graph import cycles, graph

    edges = graph(ROOT)
    assert len(edges) > 150
    assert cycles(edges) == []
    core_to_doors = {m: sorted(t for t in targets if t.split(".")[0] in ("api", "maps"))
                     for m, targets in edges.items() if m.startswith("hggis")}
    assert {m: t for m, t in core_to_doors.items() if t} == {}


SQL_BUILDERS = {"text", "select", "insert", "update", "delete", "literal_column", "func", "table", "column"}


def test_the_doors_hold_no_sql():
    """api/ and maps/ call the owning package; queries and the rules behind them live in hggis/."""
    import ast
    import re

    statement = re.compile(r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET)\b", re.S | re.I)
    found = []
    for path in [*ROOT.glob("api/**/*.py"), *ROOT.glob("maps/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                found += [f"{path.relative_to(ROOT)}: imports {a.name}" for a in node.names if a.name in SQL_BUILDERS]
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and statement.search(node.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: SQL text")
    assert found == []
