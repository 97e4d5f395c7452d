"""SSRF guard: refuse connections to loopback, private, link-local, multicast and metadata addresses.

The check sits at name resolution, the point every connection passes: yt-dlp's redirects, the media
URLs an extractor finds inside a page and every HLS segment all resolve through ``socket.getaddrinfo``
first. Checking the addresses that call returns is also what makes DNS rebinding useless: the address
checked is the address connected to. The wrapper is installed once per process and only acts on
threads that entered :func:`guarded`, so the rest of the process (databases, Redis) is unaffected.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from vidrag.domain.errors import BlockedURL, InvalidInput

_state = threading.local()
_install_lock = threading.Lock()
_original_getaddrinfo = socket.getaddrinfo
# Metadata endpoints that are not covered by "not global" on every Python version.
_EXTRA_BLOCKED = (ipaddress.ip_network("100.100.100.200/32"), ipaddress.ip_network("fd00:ec2::254/128"))


class BlockedAddressError(socket.gaierror):
    """Raised by the guarded resolver; a socket error so HTTP stacks treat it as a failed connection."""


def is_blocked_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _EXTRA_BLOCKED):
        return True
    return ip.is_multicast or ip.is_unspecified or not ip.is_global


def _guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    results = _original_getaddrinfo(host, port, *args, **kwargs)
    if getattr(_state, "active", False):
        for *_, sockaddr in results:
            if is_blocked_address(str(sockaddr[0])):
                _state.blocked_host = f"{host} ({sockaddr[0]})"
                raise BlockedAddressError(socket.EAI_FAIL, f"vidrag refused to connect to {host}: "
                                          f"{sockaddr[0]} is not a public address")
    return results


def install() -> None:
    with _install_lock:
        if socket.getaddrinfo is not _guarded_getaddrinfo:
            socket.getaddrinfo = _guarded_getaddrinfo


@contextmanager
def guarded(enabled: bool = True) -> Iterator[None]:
    """Within this block, this thread may only connect to public addresses."""
    install()
    previous = getattr(_state, "active", False)
    _state.active = enabled
    _state.blocked_host = None
    try:
        yield
    finally:
        _state.active = previous


def blocked_host() -> str | None:
    """The host the guard refused most recently in this thread, if any."""
    return getattr(_state, "blocked_host", None)


def check_url(url: str, *, allow_private: bool) -> None:
    """Resolve the URL's host now and refuse it early if it is not public (the guard still runs later)."""
    host = urlsplit(url).hostname or ""
    try:
        infos = _original_getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(f"host '{host}' cannot be resolved; check the address", code="unresolvable_host") from exc
    if allow_private:
        return
    for *_, sockaddr in infos:
        if is_blocked_address(str(sockaddr[0])):
            raise BlockedURL(f"host '{host}' resolves to {sockaddr[0]}, which is not a public address; vidrag "
                             "does not fetch from loopback, private, link-local or metadata addresses "
                             "(an operator can allow them with VIDRAG_ALLOW_PRIVATE_NETWORKS=true)")
