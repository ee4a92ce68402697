"""Platform benchmarks: `hggis demo load`, and a stopped database to the first 200 of /api/health.

Runs the real commands in subprocesses against a throw-away embedded cluster under
bench/out/var, so it measures what an operator waits for. Prints a Markdown table that
is pasted into bench/RESULTS.md.

    .venv/bin/python bench/platform_bench.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HGGIS = str(Path(sys.executable).parent / "hggis")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([HGGIS, *args], env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def wait_healthy(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise TimeoutError("service did not become healthy")


def cold_start(env: dict[str, str]) -> float:
    """From a stopped database: `hggis db up`, `hggis serve`, first 200 from /api/health."""
    port = free_port()
    started = time.perf_counter()
    subprocess.run([HGGIS, "db", "up"], env=env, check=True, capture_output=True)
    server = subprocess.Popen([HGGIS, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(port)
        return time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
        subprocess.run([HGGIS, "db", "down"], env=env, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    var = ROOT / "bench" / "out" / "var"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(HGGIS_VAR_DIR=str(var), HGGIS_PG_PORT=str(free_port()))
    loads, starts = [], []
    try:
        for _ in range(args.repeat):
            subprocess.run([HGGIS, "db", "down"], env=env, capture_output=True)
            shutil.rmtree(var, ignore_errors=True)
            run(env, "db", "up")
            run(env, "db", "migrate")
            loads.append(run(env, "demo", "load"))
            run(env, "db", "down")
            starts.append(cold_start(env))
    finally:
        subprocess.run([HGGIS, "db", "down"], env=env, capture_output=True)
        shutil.rmtree(var, ignore_errors=True)
    print("| benchmark | runs | median (s) | min (s) | max (s) |")
    print("|---|---|---|---|---|")
    for name, xs in (("`hggis demo load` (fresh database)", loads),
                     ("stopped database → first 200 from /api/health", starts)):
        print(f"| {name} | {len(xs)} | {statistics.median(xs):.1f} | {min(xs):.1f} | {max(xs):.1f} |")


if __name__ == "__main__":
    main()
