"""Load test: many concurrent clients against a running hggis, on 127.0.0.1 only.

A bounded async client (httpx): ``--clients`` tasks share one connection pool sized to them,
each runs for ``--duration`` seconds (or ``--requests`` requests) and picks, per request, from
a mix of what real callers do:

* anonymous: vector tiles of the public layer around real parcels (z10–z15), the investors'
  map page (/maps/land) and the clusters map;
* signed in (Bearer token of a city_admin): parcel pages (/parcels/{code}), the parcel API,
  officer tiles;
* edits with versions: every editing client reads one *contested* parcel, then PATCHes it with
  ``If-Match: <version>``. Exactly one edit may win per version, the rest must get 409.

Afterwards it checks for lost updates through the history API: the parcel's version rose by
the number of 200 answers, the winning versions are distinct and consecutive, and the history
holds exactly one ``update`` row per winning edit, each with the value that edit wrote. Then
it checks the service still answers /api/health within 5 s (the wedge of issue 18).

Prints a Markdown table (per kind: requests, status counts, p50/p95/p99 ms) for
bench/RESULTS.md and exits non-zero on any 5xx, transport error, lost update or dead health.

    .venv/bin/python bench/load_bench.py --base-url http://127.0.0.1:8000 --token-file TOKEN \\
        --clients 200 --duration 60
    # burst as in the issue: 200 clients x 10 requests, clients giving up after 5 s
    .venv/bin/python bench/load_bench.py ... --clients 200 --requests 10 --timeout 5
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

HEALTH_DEADLINE_S = 5.0
# kind -> weight of the request mix
MIX: dict[str, int] = {
    "tile": 40,
    "map_land": 4,
    "map_clusters": 3,
    "parcel_page": 15,
    "parcel_api": 13,
    "officer_tile": 10,
    "edit": 15,
}


@dataclass
class Stats:
    """Latencies and answers per request kind."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    status: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    wins: list[tuple[int, str]] = field(default_factory=list)  # (new version, value written)

    def record(self, kind: str, started: float, outcome: str) -> None:
        self.latency[kind].append((time.perf_counter() - started) * 1000)
        self.status[kind][outcome] += 1


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile (Web Mercator tiling scheme of the map) holding a point."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def first_point(geometry: dict) -> tuple[float, float]:
    coords = geometry["coordinates"]
    while isinstance(coords[0], list):
        coords = coords[0]
    return float(coords[0]), float(coords[1])


async def parcels_sample(client: httpx.AsyncClient, auth: dict[str, str]) -> list[tuple[str, float, float]]:
    """Codes and a vertex of up to 1000 parcels, to aim tiles and pages at real data."""
    r = await client.get("/api/parcels", params={"limit": 1000}, headers=auth)
    r.raise_for_status()
    return [(f["properties"]["code"], *first_point(f["geometry"])) for f in r.json()["features"] if f["geometry"]]


async def current_version(client: httpx.AsyncClient, code: str, auth: dict[str, str]) -> int:
    r = await client.get(f"/api/parcels/{code}", headers=auth)
    r.raise_for_status()
    return int(r.json()["properties"]["version"])


async def edit_once(client: httpx.AsyncClient, code: str, auth: dict[str, str], tag: str, stats: Stats) -> str:
    """Read the version, then write it back changed: 200 (won) or 409 (someone else won)."""
    version = await current_version(client, code, auth)
    r = await client.patch(
        f"/api/parcels/{code}",
        headers={**auth, "If-Match": f'"{version}"'},
        json={"contract_no": tag, "reason": "压力测试并发编辑"},
    )
    if r.status_code == 200:
        stats.wins.append((int(r.json()["version"]), tag))
    return str(r.status_code)


async def one_request(client: httpx.AsyncClient, kind: str, sample: list[tuple[str, float, float]],
                      contested: str, auth: dict[str, str], tag: str, stats: Stats) -> str:
    code, lon, lat = random.choice(sample)
    if kind in ("tile", "officer_tile"):
        z = random.randint(10, 15)
        x, y = tile_xy(lon, lat, z)
        layer, headers = ("parcels", {}) if kind == "tile" else ("parcels_officer", auth)
        return str((await client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf", headers=headers)).status_code)
    if kind == "map_land":
        return str((await client.get("/maps/land")).status_code)
    if kind == "map_clusters":
        return str((await client.get("/maps/clusters")).status_code)
    if kind == "parcel_page":
        return str((await client.get(f"/parcels/{code}", headers=auth)).status_code)
    if kind == "parcel_api":
        return str((await client.get(f"/api/parcels/{code}", headers=auth)).status_code)
    return await edit_once(client, contested, auth, tag, stats)


async def run_client(n: int, client: httpx.AsyncClient, args: argparse.Namespace, sample: list[tuple[str, float, float]],
                     contested: str, auth: dict[str, str], stats: Stats, stop_at: float) -> None:
    kinds, weights = list(MIX), list(MIX.values())
    done = 0
    while time.monotonic() < stop_at and (args.requests is None or done < args.requests):
        kind = random.choices(kinds, weights)[0]
        started = time.perf_counter()
        try:
            outcome = await one_request(client, kind, sample, contested, auth, f"bench-{n}-{done}", stats)
        except httpx.TimeoutException:
            outcome = "timeout"
        except httpx.TransportError as exc:
            outcome = type(exc).__name__
        except httpx.HTTPStatusError as exc:  # the version read of an edit
            outcome = str(exc.response.status_code)
        stats.record(kind, started, outcome)
        done += 1


def pct(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(stats: Stats, elapsed: float, args: argparse.Namespace) -> tuple[int, int]:
    """Print the table; return (server errors, transport errors)."""
    print(f"\n{args.clients} clients, {elapsed:.0f} s, timeout {args.timeout:g} s\n")
    print("| kind | requests | answers | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    server = transport = 0
    every: list[float] = []
    for kind in MIX:
        lat = stats.latency.get(kind)
        if not lat:
            continue
        every += lat
        counts = stats.status[kind]
        server += sum(v for k, v in counts.items() if k.isdigit() and k.startswith("5"))
        transport += sum(v for k, v in counts.items() if not k.isdigit())
        answers = ", ".join(f"{k}×{v}" for k, v in sorted(counts.items()))
        print(f"| {kind} | {len(lat)} | {answers} | {pct(lat, 50):.0f} | {pct(lat, 95):.0f} | {pct(lat, 99):.0f} |")
    if every:
        print(f"| **all** | {len(every)} ({len(every) / elapsed:.0f}/s) | 5xx: {server}, transport errors: {transport} "
              f"| {pct(every, 50):.0f} | {pct(every, 95):.0f} | {pct(every, 99):.0f} |")
    return server, transport


async def check_no_lost_updates(client: httpx.AsyncClient, code: str, auth: dict[str, str], start_version: int,
                                history_before: int, stats: Stats) -> list[str]:
    """Problems found (empty: exactly one winner per version, and every win is in the history)."""
    problems: list[str] = []
    final = await current_version(client, code, auth)
    versions = sorted(v for v, _ in stats.wins)
    if final - start_version != len(stats.wins):
        problems.append(f"version went {start_version} -> {final} but {len(stats.wins)} edits were answered 200")
    if versions != list(range(start_version + 1, start_version + 1 + len(versions))):
        problems.append(f"winning versions are not distinct and consecutive: {versions[:10]}…")
    r = await client.get(f"/api/history/parcels/{code}", headers=auth)
    r.raise_for_status()
    updates = [h for h in r.json()[history_before:] if h["action"] == "update"]
    written = [(h.get("after") or {}).get("contract_no") for h in updates]
    expected = [tag for _, tag in sorted(stats.wins)]
    if written != expected:
        problems.append(f"history has {len(updates)} updates, expected {len(expected)} in version order")
    print(f"\nedits of {code}: {len(stats.wins)} won (version {start_version} -> {final}), "
          f"{stats.status['edit'].get('409', 0)} refused with 409; history rows added: {len(updates)}; "
          f"lost updates: {'none' if not problems else problems}")
    return problems


async def health_answers(client: httpx.AsyncClient) -> bool:
    started = time.perf_counter()
    try:
        r = await client.get("/api/health", timeout=HEALTH_DEADLINE_S)
    except httpx.HTTPError as exc:
        print(f"/api/health after the run: no answer within {HEALTH_DEADLINE_S:g} s ({type(exc).__name__})")
        return False
    print(f"/api/health after the run: {r.status_code} in {(time.perf_counter() - started) * 1000:.0f} ms")
    return r.status_code == 200


async def main_async(args: argparse.Namespace) -> int:
    token = Path(args.token_file).read_text().strip() if args.token_file else args.token
    auth = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=args.base_url, timeout=args.timeout, limits=limits) as client:
        sample = await parcels_sample(client, auth)
        contested = args.parcel or sample[0][0]
        start_version = await current_version(client, contested, auth)
        history_before = len((await client.get(f"/api/history/parcels/{contested}", headers=auth)).json())
        stats = Stats()
        started = time.monotonic()
        stop_at = started + args.duration
        await asyncio.gather(*(run_client(n, client, args, sample, contested, auth, stats, stop_at)
                               for n in range(args.clients)))
        elapsed = time.monotonic() - started
    server, transport = report(stats, elapsed, args)
    # a fresh client: the run's connections may be the very ones a wedged server no longer serves
    async with httpx.AsyncClient(base_url=args.base_url, timeout=max(args.timeout, 30)) as client:
        if args.settle:
            await asyncio.sleep(args.settle)
        alive = await health_answers(client)
        problems = await check_no_lost_updates(client, contested, auth, start_version, history_before, stats) if alive else ["not checked"]
    return 0 if (server == 0 and transport == 0 and alive and not problems) else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-url", default="http://127.0.0.1:8000")
    p.add_argument("--token", help="API token of a city_admin (or use --token-file)")
    p.add_argument("--token-file")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--duration", type=float, default=60, help="seconds (upper bound with --requests)")
    p.add_argument("--requests", type=int, default=None, help="requests per client (default: until --duration)")
    p.add_argument("--timeout", type=float, default=30, help="per request, seconds (the client then gives up)")
    p.add_argument("--parcel", help="code of the parcel every editor fights over (default: the first one)")
    p.add_argument("--settle", type=float, default=0, help="seconds to wait before the health check")
    p.add_argument("--seed", type=int, default=18)
    args = p.parse_args(argv)
    host = urlsplit(args.base_url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        p.error("the load test only targets this machine (127.0.0.1)")
    if not (args.token or args.token_file):
        p.error("give --token or --token-file")
    if not 1 <= args.clients <= 500 or not 0 < args.duration <= 600:
        p.error("--clients 1..500 and --duration up to 600 s")
    return args


def main() -> int:
    args = parse_args()
    random.seed(args.seed)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
