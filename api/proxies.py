"""The real client behind a reverse proxy, believed only from proxies we were told to trust.

``Forwarded`` and ``X-Forwarded-*`` headers are written by whoever sends the request, so
they are read only when the connection comes from an address in HGGIS_TRUSTED_PROXIES
(default: none). The middleware rewrites the ASGI scope's ``client`` and ``scheme`` in
place, once, so everything downstream agrees: sign-in limits and logs see one address,
Secure cookies and redirects one scheme, and uvicorn's access log the same client.
uvicorn's own proxy handling is switched off (``proxy_headers=False``) so it cannot
believe a different set of headers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SCHEMES = ("http", "https")


class ProxyConfigError(ValueError):
    """An entry of HGGIS_TRUSTED_PROXIES that is not an address or network."""


def parse_networks(value: str | Iterable[str]) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` → networks; a bad entry is an error naming it."""
    items = value.split(",") if isinstance(value, str) else list(value)
    networks = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ProxyConfigError(f"HGGIS_TRUSTED_PROXIES: {item!r} is not an IP address or network") from None
    return tuple(networks)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a header value: ``1.2.3.4``, ``1.2.3.4:80``, ``[2001:db8::1]:80``, ``"…"``."""
    v = value.strip().strip('"')
    if v.startswith("["):
        v = v[1:].split("]", 1)[0]
    elif v.count(":") == 1:
        v = v.split(":", 1)[0]
    try:
        return ipaddress.ip_address(v)
    except ValueError:
        return None  # "unknown", an obfuscated identifier, garbage


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, networks: Sequence[Network]) -> bool:
    return address is not None and any(address in n for n in networks)


def _forwarded_hops(header: str) -> list[tuple[str, str | None]]:
    """RFC 7239 ``Forwarded``: (for, proto) per element, nearest proxy last."""
    hops = []
    for element in header.split(","):
        pairs = {}
        for pair in element.split(";"):
            key, _, val = pair.partition("=")
            pairs[key.strip().lower()] = val.strip().strip('"')
        hops.append((pairs.get("for", ""), pairs.get("proto")))
    return hops


def _x_forwarded_hops(for_header: str | None, proto_header: str | None) -> list[tuple[str, str | None]]:
    """``X-Forwarded-For`` with ``X-Forwarded-Proto`` lined up per hop when the counts match."""
    fors = [f.strip() for f in (for_header or "").split(",") if f.strip()]
    protos = [p.strip() for p in (proto_header or "").split(",") if p.strip()]
    if not fors:
        return [("", protos[-1])] if protos else []
    if len(protos) == len(fors):
        return list(zip(fors, protos, strict=True))
    last = protos[-1] if protos else None
    return [(f, last) for f in fors]


def resolve_client(
    peer: str | None, headers: dict[str, str], networks: Sequence[Network]
) -> tuple[str | None, str | None]:
    """(client address, scheme) as the trusted proxies report them; (None, None) to keep the peer's.

    Hops are walked from the nearest proxy outwards; the first address that is not a
    trusted proxy is the client. A hop that names no usable address ends the walk at the
    proxy that wrote it, so a forged left-most entry can never be chosen over a real one.
    """
    if not networks or not _trusted(_address(peer or ""), networks):
        return None, None
    if "forwarded" in headers:
        hops = _forwarded_hops(headers["forwarded"])
    else:
        hops = _x_forwarded_hops(headers.get("x-forwarded-for"), headers.get("x-forwarded-proto"))
    client, scheme = None, None
    for raw, proto in reversed(hops):
        address = _address(raw)
        if raw and address is None:
            break
        if proto and proto.lower() in SCHEMES:
            scheme = proto.lower()
        if address is None:  # a proto-only hop
            continue
        client = str(address)
        if not _trusted(address, networks):
            break
    return client, scheme


class TrustedProxyMiddleware:
    """Rewrites ``scope["client"]`` and ``scope["scheme"]`` from trusted proxies' headers.

    The networks are read from ``app.state.trusted_proxies`` at each request, so a test or
    an embedding application can change them after :func:`api.app.create_app`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            owner = scope.get("app")
            networks = getattr(getattr(owner, "state", None), "trusted_proxies", ())
            if networks:
                peer = scope.get("client")
                headers: dict[str, str] = {}
                for k, v in scope.get("headers", []):  # repeated headers are one comma-separated list
                    name = k.decode("latin-1").lower()
                    value = v.decode("latin-1")
                    headers[name] = f"{headers[name]}, {value}" if name in headers else value
                client, scheme = resolve_client(peer[0] if peer else None, headers, networks)
                if client is not None:
                    scope["client"] = (client, 0)
                if scheme is not None:
                    scope["scheme"] = scheme if scope["type"] == "http" else {"http": "ws", "https": "wss"}[scheme]
        await self.app(scope, receive, send)


def from_trusted_proxy(scope: Scope) -> bool:
    """Whether the connection itself comes from a trusted proxy (before any rewriting)."""
    networks = getattr(getattr(scope.get("app"), "state", None), "trusted_proxies", ())
    peer = scope.get("client")
    return peer is not None and _trusted(_address(peer[0]), networks)
