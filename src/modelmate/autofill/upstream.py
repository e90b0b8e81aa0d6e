"""Upstream errors (one per outcome the user can act on) and the size/time/host limits of upstream reads."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from email.utils import parsedate_to_datetime

from modelmate.errors import AppError


class UpstreamError(AppError):
    """The upstream service failed or answered something unusable (502)."""

    status_code = 502
    code = "upstream_error"


class UpstreamNotFound(AppError):
    status_code = 404
    code = "upstream_not_found"


class UpstreamForbidden(AppError):
    status_code = 403
    code = "upstream_forbidden"


class UpstreamRateLimited(AppError):
    status_code = 429
    code = "upstream_rate_limited"


class UpstreamTimeout(AppError):
    status_code = 504
    code = "upstream_timeout"


class UpstreamTooLarge(UpstreamError):
    code = "upstream_too_large"


class BlockedRedirect(UpstreamError):
    code = "upstream_redirect_blocked"


def retry_after_seconds(value: str | None, *, default: int = 60) -> int:
    """Retry-After as seconds (delta-seconds or an HTTP date), clamped to 1 s .. 1 h."""
    if value:
        value = value.strip()
        if value.isdigit():
            return max(1, min(3600, int(value)))
        try:
            return max(1, min(3600, int(parsedate_to_datetime(value).timestamp() - time.time())))
        except (TypeError, ValueError, OverflowError):
            pass
    return default


def rate_limited(service: str, retry_after: int) -> UpstreamRateLimited:
    return UpstreamRateLimited(f"{service} is rate limiting us; try again in {retry_after} seconds",
                               details={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)})


_TRANSPORT_HINTS = {
    # By class name: github.py uses httpx, hf.py the Hub client's httpx2; both name their errors alike.
    "ProxyError": "the proxy between this server and {service} refused the connection; check the proxy settings",
    "UnsupportedProtocol": "{service} could not be reached: the address it is configured with is not a web address",
    "ConnectError": "could not connect to {service}: this server seems to be offline, or {service} is down; "
                    "check the network connection and try again",
    "RemoteProtocolError": "{service} closed the connection unexpectedly; try again in a moment",
    "ReadError": "the connection to {service} broke while reading its answer; try again in a moment",
    "WriteError": "the connection to {service} broke while sending the request; try again in a moment",
}


def unreachable(service: str, exc: BaseException) -> UpstreamError:
    """A transport failure (no connection, a broken one, a proxy refusing) as a sentence a user can act on.

    The exception's class name (``ConnectError``) is a programmer's word: it goes to the log through the exception
    chain (``raise ... from exc``), never into the message."""
    for cls in type(exc).__mro__:
        hint = _TRANSPORT_HINTS.get(cls.__name__)
        if hint:
            return UpstreamError(hint.format(service=service), code="upstream_unreachable")
    return UpstreamError(f"could not reach {service}; check the network connection and try again",
                         code="upstream_unreachable")


def capped(chunks: Iterable[bytes], *, max_bytes: int, deadline: float, service: str) -> Iterator[bytes]:
    """Pass chunks through until ``max_bytes`` or the deadline (a slow trickle) is exceeded."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise UpstreamTooLarge(f"{service} sent more than {max_bytes // 1024} KiB; refusing to read further")
        if time.monotonic() > deadline:
            raise UpstreamTimeout(f"{service} is too slow to answer; try again later")
        yield chunk
