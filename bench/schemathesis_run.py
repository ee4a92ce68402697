"""Property-based probing of the whole HTTP API with schemathesis, anonymous and with a token.

Starts a throw-away embedded PostGIS under bench/out (removed afterwards), migrates it as
the owner role, loads the county boundaries and the demo data, makes a city administrator
with a Bearer token, serves the app as the non-owner app role on 127.0.0.1 (uvicorn, as in
production) and runs the pinned schemathesis CLI (bench/requirements-fuzz.txt) twice against
its /openapi.json: once anonymous, once with the token. Checks: no server error (5xx) and
every response matches the documented schema (status code, content type, body).

    .venv/bin/pip install -r bench/requirements-fuzz.txt
    .venv/bin/python bench/schemathesis_run.py [--max-examples 20] [--seed 19]

The event streams are kept in bench/out/schemathesis/<label>.ndjson.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# What "0 server errors and 0 schema violations" means, as schemathesis check names.
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance")
# Operations that end the caller's own session or credentials would stop the run itself.
EXCLUDED_PATHS = ("/logout", "/api/auth/logout")


@dataclass
class Outcome:
    """What one schemathesis run reported."""

    label: str
    exit_code: int
    seconds: float
    cases: int = 0
    operations: int = 0
    failures: list[str] = field(default_factory=list)
    tool_errors: list[str] = field(default_factory=list)  # schemathesis' own errors, not the API's
    output_tail: str = ""


def admin_token(engine: Engine) -> str:
    """A city administrator with a Bearer token (real rows, as ``hggis user`` makes them)."""
    from hggis.access.policy import operator
    from hggis.access.users import create_user, issue_token
    from hggis.db.session import transaction

    with transaction(engine, "schemathesis setup", "fuzzing account") as conn:
        uid = create_user(conn, operator(), f"fuzz{int(time.time() * 1000) % 10**9}", "city_admin")
        return issue_token(conn, uid, 1).token


def _summarise(label: str, rc: int, seconds: float, ndjson: Path, output: str) -> Outcome:
    out = Outcome(label, rc, seconds, output_tail=output[-4000:])
    if ndjson.exists():
        for line in ndjson.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            _collect(event, out)
    return out


def _collect(event: dict, out: Outcome) -> None:
    """Count cases and failures from schemathesis' ndjson event stream."""
    error = event.get("NonFatalError")
    if isinstance(error, dict):
        value = error.get("value") or {}
        out.tool_errors.append(f"{error.get('label')}: {value.get('type')}: {value.get('message')}")
    body = event.get("ScenarioFinished")
    if not isinstance(body, dict):
        return
    recorder = body.get("recorder") or {}
    cases = recorder.get("cases") or {}
    out.cases += len(cases)
    for checks in (recorder.get("checks") or {}).values():
        for check in checks:
            if check.get("status") != "failure":
                continue
            failure = (check.get("failure_info") or {}).get("failure") or {}
            out.failures.append(
                f"{check.get('name')}: {recorder.get('label')} {failure.get('title', '')}: "
                f"{(failure.get('message') or '').splitlines()[0][:160] if failure.get('message') else ''}"
            )


def run_schemathesis(
    base_url: str, label: str, headers: dict[str, str], max_examples: int, seed: int, report_dir: Path
) -> Outcome:
    """One bounded schemathesis run; returns its counts and failures."""
    report_dir.mkdir(parents=True, exist_ok=True)
    ndjson = report_dir / f"{label}.ndjson"
    ndjson.unlink(missing_ok=True)
    cmd = [
        str(SCHEMATHESIS), "run", f"{base_url}/openapi.json",
        "--checks", ",".join(CHECKS),
        "--max-examples", str(max_examples), "--seed", str(seed),
        "--phases", "examples,coverage,fuzzing",
        "--workers", "2", "--request-timeout", "60", "--no-shrink",
        "--report", "ndjson", "--report-ndjson-path", str(ndjson),
        "--suppress-health-check", "all", "--warnings", "off",
    ]
    for path in EXCLUDED_PATHS:
        cmd += ["--exclude-path", path]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=report_dir, check=False)
    return _summarise(label, proc.returncode, time.monotonic() - started, ndjson, proc.stdout + proc.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    if not SCHEMATHESIS.exists():
        sys.exit("schemathesis is not installed: .venv/bin/pip install -r bench/requirements-fuzz.txt")

    from hggis.boundaries import load_boundaries
    from hggis.config import Settings
    from hggis.db.cluster import APP_ROLE, OWNER_ROLE, EmbeddedCluster
    from hggis.db.engine import with_session_limits
    from hggis.db.migrate import grant_app_role, upgrade
    from hggis.demo.loader import load_demo
    from tests.live_server import free_port, live_server

    out_dir = ROOT / "bench" / "out" / "schemathesis"
    var = ROOT / "bench" / "out" / "var-schemathesis"
    shutil.rmtree(var, ignore_errors=True)
    cluster = EmbeddedCluster(var, free_port())
    try:
        cluster.up()
        cluster.create_database("fuzz")
        owner = create_engine(cluster.url("fuzz", OWNER_ROLE))
        upgrade(owner)
        grant_app_role(owner, APP_ROLE)
        load_boundaries(owner, actor="schemathesis setup")
        owner.dispose()
        settings = Settings(_env_file=None)
        app_url = with_session_limits(cluster.url("fuzz", APP_ROLE), settings.hggis_statement_timeout_s,
                                      settings.hggis_idle_in_transaction_timeout_s)
        engine = create_engine(app_url, pool_pre_ping=True)
        load_demo(engine)
        token = admin_token(engine)
        with live_server(engine) as base:
            for label, headers in (("anonymous", {}), ("admin", {"Authorization": f"Bearer {token}"})):
                o = run_schemathesis(base, label, headers, args.max_examples, args.seed, out_dir)
                print(f"{label}: exit {o.exit_code}, {o.cases} cases in {o.seconds:.0f} s, "
                      f"{len(o.failures)} failed checks ({len(set(o.failures))} distinct), "
                      f"{len(o.tool_errors)} errors of schemathesis itself")
                for f in sorted(set(o.failures)) + sorted(set(o.tool_errors)):
                    print("   ", f)
                if o.exit_code not in (0, 1):
                    print(o.output_tail)
        engine.dispose()
    finally:
        cluster.down()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
