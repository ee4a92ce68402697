"""Admission control: at most N requests of one worker hold database work at once.

Why: sync routes and dependencies run in worker threads, and each request checks out a
pooled connection. Under a burst, all threads could block waiting for a connection while
the requests that hold the connections waited for a free thread to run their next step:
a deadlock that only the pool timeout broke, 40 requests at a time, each a 500, and the
abandoned backlog kept the service wedged for minutes. Here a request waits on the event
loop (no thread, no connection) for a slot, a bounded time; past that it gets 503 with
Retry-After. With fewer admitted requests than pool connections and more threads than
admitted requests, a request that holds a connection always finds a thread.
"""

from __future__ import annotations

import asyncio
import json

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

# Paths served from files: no database, never queued behind database work.
UNLIMITED_PREFIXES = ("/static/", "/assets/")
BUSY_DETAIL = "服务繁忙，请稍后再试（service busy, retry later）"


async def busy_response(send: Send, retry_after_s: int) -> None:
    """A 503 that tells clients when to come back."""
    body = json.dumps({"detail": BUSY_DETAIL}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"retry-after", str(retry_after_s).encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AdmissionLimit:
    """Pure ASGI middleware (so it wraps streaming responses and never needs a thread)."""

    def __init__(self, app: ASGIApp, slots: int, wait_s: float) -> None:
        self.app = app
        self.slots = slots
        self.wait_s = wait_s
        self._semaphore: asyncio.Semaphore | None = None

    def _sem(self) -> asyncio.Semaphore:
        # Created lazily inside the running loop (one loop per worker process).
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
            # More threads than admitted requests (each may take several thread trips).
            limiter = anyio.to_thread.current_default_thread_limiter()
            limiter.total_tokens = max(limiter.total_tokens, 2 * self.slots + 8)
        return self._semaphore

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        sem = self._sem()
        try:
            await asyncio.wait_for(sem.acquire(), timeout=self.wait_s)
        except TimeoutError:
            await busy_response(send, max(1, round(self.wait_s)))
            return
        try:
            await self.app(scope, receive, send)
        finally:
            sem.release()
