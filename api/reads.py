"""Read-your-writes with read replicas: a browser reads the primary for a while after its own write.

See hggis/db/reads.py for why a stickiness window (and not an LSN wait) and why its length
(the replica lag bound plus one check interval) is enough.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hggis.db.reads import PRIMARY_READS_COOKIE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class PrimaryAfterWrite:
    """Sets the primary-reads cookie on every successful write's answer (status < 400)."""

    def __init__(self, app: ASGIApp, sticky_s: int) -> None:
        self.app = app
        self.sticky_s = sticky_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                headers = MutableHeaders(scope=message)
                secure = "; Secure" if scope.get("scheme") == "https" else ""
                headers.append(
                    "set-cookie",
                    f"{PRIMARY_READS_COOKIE}=1; Max-Age={self.sticky_s}; Path=/; HttpOnly; SameSite=Lax{secure}",
                )
            await send(message)

        await self.app(scope, receive, send_marked)
