"""The hosts this server answers for, and the reverse proxies whose forwarding headers it believes.

DNS rebinding: a page on ``http://evil.example:8000`` whose name is re-pointed at 127.0.0.1 talks to ModelMate
as a *same-origin* page (its ``Origin`` and ``Host`` agree), so an Origin check alone lets it write, read the log
and even create the first administrator. The only request field such a page cannot choose is the host *name* its
browser sends in ``Host``. So every request (API, UI files, ``/hf``) must name a host we serve, before anything
else runs; any other gets 421 ``host_not_allowed``.

Served hosts (any port unless the entry names one): ``127.0.0.1``, ``localhost``, ``[::1]``; ``MODELMATE_HOST``
when it is a specific address (a wildcard bind, 0.0.0.0 or ::, adds nothing: name the hosts explicitly); each
``MODELMATE_ALLOWED_HOSTS`` entry (``name``, ``name:port``, ``*.example.org`` for the subdomains of
example.org); and the host of ``MODELMATE_PUBLIC_URL``.

Behind a reverse proxy listed in ``MODELMATE_TRUSTED_PROXIES`` (IPs/CIDRs), the last ``X-Forwarded-Proto`` and
``X-Forwarded-Host`` values and the ``X-Forwarded-For`` chain become the request's scheme, Host and client
address (the Host check then applies to the forwarded host). From any other peer these headers are removed, so
nothing downstream can be fooled by them.

The middleware also puts the origins a browser page of ours can have (the request's own scheme + validated host,
and the public URL's origin) in ``scope["state"]["site_origins"]``: the CSRF check compares ``Origin`` with them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from modelmate.config import Settings
from modelmate.hostnames import DEFAULT_PORTS, HostPattern, Origin, origin_of_url, parse_host_pattern, split_host

DEFAULT_HOSTS = ("127.0.0.1", "localhost", "::1")
FORWARDED_HEADERS = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port"})
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class HostPolicy:
    patterns: tuple[HostPattern, ...]
    trusted_proxies: tuple[IPNetwork, ...] = ()
    public_origin: Origin | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> HostPolicy:
        patterns = [HostPattern(h) for h in DEFAULT_HOSTS]
        if not settings.bind_is_wildcard:
            # (not a host name a browser could send: nothing to add; uvicorn reports a bad bind address itself)
            with contextlib.suppress(ValueError):
                patterns.append(HostPattern(parse_host_pattern(settings.host).host))
        patterns += [parse_host_pattern(entry) for entry in settings.allowed_hosts]
        public = origin_of_url(settings.public_url) if settings.public_url else None
        if public is not None:
            # Any port: the proxy in front may pass the public name with its own listening port.
            patterns.append(HostPattern(public[1]))
        proxies = tuple(ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies)
        return cls(patterns=tuple(dict.fromkeys(patterns)), trusted_proxies=proxies, public_origin=public)

    def allows(self, host: str, port: int) -> bool:
        return any(p.matches(host, port) for p in self.patterns)

    def trusts(self, address: str | None) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in net for net in self.trusted_proxies)


def _ip(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _last(value: str) -> str:
    return value.rsplit(",", 1)[-1].strip()


class HostGuardMiddleware:
    """Refuse hosts we do not serve (421) and apply trusted proxies' forwarding headers. Keep it outermost."""

    def __init__(self, app: ASGIApp, *, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        from_proxy = bool(self.policy.trusted_proxies) and self.policy.trusts(client[0] if client else None)
        forwarded: dict[bytes, str] = {}
        hosts: list[str] = []
        kept: list[tuple[bytes, bytes]] = []
        for name, value in scope.get("headers", []):
            lname = name.lower()
            if lname in FORWARDED_HEADERS:
                if from_proxy:
                    previous = forwarded.get(lname)
                    text = value.decode("latin-1")
                    forwarded[lname] = f"{previous},{text}" if previous else text  # repeated = one list
                    kept.append((name, value))
                continue  # from anyone else: dropped, never believed
            if lname == b"host":
                hosts.append(value.decode("latin-1"))
                continue
            kept.append((name, value))

        scheme = scope.get("scheme", "http")
        if from_proxy:
            scheme, hosts, client = self._forwarded(scope, forwarded, scheme, hosts, client)
        if len(hosts) != 1:
            await self._refuse(scope, receive, send, "the request must carry exactly one Host header", None)
            return
        raw_host = hosts[0]
        try:
            host, port = split_host(raw_host)
        except ValueError:
            await self._refuse(scope, receive, send, "the Host header is not a valid host name", raw_host)
            return
        port = port if port is not None else DEFAULT_PORTS.get(scheme, 80)
        if not self.policy.allows(host, port):
            await self._refuse(scope, receive, send, f"this server does not serve the host {host!r}; add it to "
                               "MODELMATE_ALLOWED_HOSTS or set MODELMATE_PUBLIC_URL", raw_host)
            return
        scope["headers"] = [*kept, (b"host", raw_host.strip().encode("latin-1"))]
        scope["scheme"] = scheme
        if client is not None:
            scope["client"] = client
        own: Origin = ("https" if scheme in ("https", "wss") else "http", host, port)
        origins = {own} | ({self.policy.public_origin} if self.policy.public_origin else set())
        scope.setdefault("state", {})["site_origins"] = frozenset(origins)
        await self.app(scope, receive, send)

    def _forwarded(self, scope: Scope, forwarded: dict[bytes, str], scheme: str, hosts: list[str],
                   client: tuple[str, int] | None) -> tuple[str, list[str], tuple[str, int] | None]:
        """The proxy's view: scheme and Host from its last X-Forwarded-Proto/-Host, the client from -For."""
        proto = _last(forwarded.get(b"x-forwarded-proto", "")).lower()
        if proto in ("http", "https"):
            scheme = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
        fwd_host = _last(forwarded.get(b"x-forwarded-host", ""))
        if fwd_host:
            hosts = [fwd_host]
        chain = [part.strip() for part in forwarded.get(b"x-forwarded-for", "").split(",") if part.strip()]
        real: str | None = None
        for address in reversed(chain):  # the nearest untrusted hop is the client; earlier entries are hearsay
            ip = _ip(address)
            if ip is None:
                break
            real = str(ip)
            if not self.policy.trusts(real):
                break
        if real is not None:
            client = (real, 0)
        return scheme, hosts, client

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, message: str, host: str | None) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": {"code": "host_not_allowed", "message": message,
                                     "details": {"host": host[:255] if host is not None else None}}}).encode()
        await send({"type": "http.response.start", "status": 421,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def describe(policy: HostPolicy) -> Iterable[str]:
    """The served hosts, as an operator would write them (for the start-up log)."""
    for p in policy.patterns:
        host = f"[{p.host}]" if ":" in p.host else p.host
        yield ("*." if p.wildcard else "") + host + (f":{p.port}" if p.port is not None else "")
