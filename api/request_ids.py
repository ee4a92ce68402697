"""A request id for every request: in the ``X-Request-Id`` answer header and in every log line.

An id sent by a trusted proxy (nginx in front, which logs it too) is kept, so one id runs
from the proxy's log through the app's; anyone else's is replaced, so a client cannot plant
misleading ids in the logs. Pure ASGI and outermost, so even a 500 carries it.
"""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.proxies import from_trusted_proxy
from hggis.logs import REQUEST_ID, install_request_ids

HEADER = b"x-request-id"
_WELL_FORMED = re.compile(rb"[A-Za-z0-9._-]{8,64}")


def _incoming(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == HEADER and _WELL_FORMED.fullmatch(value):
            return value.decode()
    return None


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        install_request_ids()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = _incoming(scope)
        rid = offered if offered and from_trusted_proxy(scope) else secrets.token_hex(8)
        token = REQUEST_ID.set(rid)

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            REQUEST_ID.reset(token)
