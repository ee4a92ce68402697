"""Under load the service answers 503 with Retry-After, never 500, and never wedges."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api.admission import AdmissionLimit
from api.app import create_app
from tests.access_helpers import make_user
from tests.live_server import live_server


def test_saturated_pool_gets_503_with_retry_after(clean_db):
    tiny = create_engine(clean_db.url, pool_size=1, max_overflow=0, pool_timeout=0.3)
    try:
        client = TestClient(create_app(tiny))
        assert client.get("/api/parcels").status_code == 200
        with tiny.connect():  # the only connection is taken
            response = client.get("/api/parcels")
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        assert client.get("/api/parcels").status_code == 200  # and back once it is free
    finally:
        tiny.dispose()


def test_admission_limit_queues_then_refuses_without_running_the_request():
    started: list[str] = []

    async def slow_app(scope, receive, send):  # noqa: ANN001, ANN202
        started.append(scope["path"])
        await asyncio.sleep(0.5)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=AdmissionLimit(slow_app, slots=1, wait_s=0.1))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await asyncio.gather(client.get("/a"), client.get("/b"), client.get("/static/x.css"))

    first, second, static = asyncio.run(burst())
    assert first.status_code == 200 and static.status_code == 200  # static files are never queued
    assert second.status_code == 503 and second.headers["retry-after"] == "1"
    assert "/b" not in started  # the refused request did no work


def test_burst_of_abandoned_requests_does_not_wedge_the_service(clean_db):
    """The burst of issue 18 in small: a 3-connection pool, 200 signed-in clients who give up
    after 1 s, then /api/health must answer within 5 s."""
    token = make_user(clean_db, "burst", "city_admin").headers
    small = create_engine(clean_db.url, pool_size=3, max_overflow=0, pool_timeout=2)
    try:
        with live_server(small, max_concurrent=1) as base:

            async def burst() -> list[int | None]:
                limits = httpx.Limits(max_connections=200)
                async with httpx.AsyncClient(base_url=base, timeout=1.0, limits=limits, headers=token) as client:

                    async def one(i: int) -> int | None:
                        try:
                            return (await client.get("/api/parcels", params={"limit": 50, "q": str(i)})).status_code
                        except httpx.HTTPError:
                            return None  # the client gave up, as in the report

                    return await asyncio.gather(*(one(i) for i in range(200)))

            codes = asyncio.run(burst())
            assert not [c for c in codes if c is not None and c >= 500 and c != 503]
            deadline = time.monotonic() + 5
            healthy = False
            while time.monotonic() < deadline and not healthy:
                try:
                    healthy = httpx.get(f"{base}/api/health", timeout=2).status_code == 200
                except httpx.HTTPError:
                    time.sleep(0.2)
            assert healthy, "the service did not answer /api/health within 5 s after the burst"
    finally:
        small.dispose()
