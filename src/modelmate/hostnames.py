"""Host names, ``host:port`` values, ``MODELMATE_ALLOWED_HOSTS`` patterns and origins: parsing only (stdlib).

A leaf module: :mod:`modelmate.config` validates its settings with it and :mod:`modelmate.api.hosts` (the host guard
middleware) matches requests with it. See that module for what the host check defends against.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_NAME_RE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")  # DNS names and IPv4 (underscores: container names)

Origin = tuple[str, str, int]  # scheme, host (lowercase, IPv6 without brackets), port


def split_host(value: str, *, bare_ipv6: bool = False) -> tuple[str, int | None]:
    """``name``, ``name:port``, ``[v6]``, ``[v6]:port`` (and a bare ``v6`` when ``bare_ipv6``) → (host, port).

    The host is lowercased and loses a trailing dot. Raises ``ValueError`` for anything else.
    """
    text = value.strip().lower()
    port_text: str | None = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"{value!r}: unclosed '['")
        host, rest = text[1:end], text[end + 1:]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{value!r}: unexpected text after ']'")
            port_text = rest[1:]
        _ipv6(host, value)
    elif text.count(":") > 1:
        if not bare_ipv6:
            raise ValueError(f"{value!r}: an IPv6 host must be written in brackets")
        host = _ipv6(text, value)
    else:
        host, sep, port_text_ = text.partition(":")
        port_text = port_text_ if sep else None
        host = host.removesuffix(".")
        if not host or len(host) > 253 or not _NAME_RE.match(host):
            raise ValueError(f"{value!r} is not a valid host name")
    port = None
    if port_text is not None:
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{value!r}: invalid port")
        port = int(port_text)
    return host, port


def _ipv6(host: str, original: str) -> str:
    try:
        return str(ipaddress.IPv6Address(host))
    except ValueError as exc:
        raise ValueError(f"{original!r} is not a valid IPv6 address") from exc


@dataclass(frozen=True)
class HostPattern:
    host: str  # for a wildcard: the parent domain (``example.org`` for ``*.example.org``)
    port: int | None = None  # None: any port
    wildcard: bool = False

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        return host.endswith("." + self.host) if self.wildcard else host == self.host


def parse_host_pattern(entry: str) -> HostPattern:
    """An ``MODELMATE_ALLOWED_HOSTS`` entry: ``name``, ``name:port``, ``[v6]:port``, ``v6``, ``*.parent[:port]``."""
    text = entry.strip()
    if text in ("*", "*.*") or text.startswith("*:"):
        raise ValueError(f"{entry!r} would serve any host name, which defeats the DNS-rebinding defence; "
                         "list the host names users type instead")
    wildcard = text.startswith("*.")
    host, port = split_host(text[2:] if wildcard else text, bare_ipv6=not wildcard)
    if wildcard and "." not in host:
        raise ValueError(f"{entry!r}: a wildcard needs a parent domain with a dot, like '*.example.org'")
    return HostPattern(host=host, port=port, wildcard=wildcard)


def origin_of_url(url: str) -> Origin | None:
    """``scheme://host[:port]`` → (scheme, host, port); None when it is not a plain http(s) origin."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host or port is None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username is not None:
        return None
    return parts.scheme, host, port
