"""Who may talk to the watch service's endpoint: loopback, local hosts, same origin.

Role: :func:`is_loopback` says whether a listen address only ever means this
machine (``controller.commands.watch`` refuses a non-loopback ``--listen`` without a
webhook secret); :func:`guard` refuses what a web page could make a browser send to
the endpoint: on a loopback endpoint a ``Host`` header other than ``localhost`` or a
loopback address (421: DNS rebinding, where a page's own name is made to resolve to
127.0.0.1), and, anywhere, a request other than GET/HEAD whose ``Origin`` is not this
server (403: cross-site; forges and scripts send no ``Origin``). No name is ever
resolved for a request. Neighbours: ``controller.service.httpserver`` calls
:func:`guard` before any route; ``controller.service.httpwire`` (the values).
"""

from __future__ import annotations

import ipaddress
import socket

from controller.service.httpwire import HTTPError, Request


def is_loopback(host: str) -> bool:
    """True when ``host`` (an address or a name) only ever means this machine."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            found = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except OSError:
            return False
        return bool(found) and all(is_loopback(str(a).partition("%")[0]) for a in found)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _split_host(value: str) -> str:
    """``host[:port]`` or ``[v6]:port`` -> the host, lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    host, sep, port = value.rpartition(":")
    return host if sep and port.isdigit() else value


def local_host(value: str) -> bool:
    """A ``Host`` header that names this machine without DNS: ``localhost`` or a
    loopback address (any port). A name that resolves to loopback is not enough: that is
    how DNS rebinding lets a web page reach a local server."""
    host = _split_host(value)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return is_loopback(host)


def guard(request: Request, local_only: bool) -> None:
    """Refuse a request a web page made the browser send: on a loopback endpoint a
    ``Host`` that is not local (DNS rebinding), and anywhere a cross-site POST (an
    ``Origin`` that is not this server's: forges send none)."""
    host = request.headers.get("Host")
    if local_only and host is not None and not local_host(host):
        raise HTTPError(421, f"this endpoint only answers requests for localhost or a "
                             f"loopback address, not {host[:80]!r}: use http://127.0.0.1:PORT/")
    origin = request.headers.get("Origin")
    if origin is not None and request.method not in ("GET", "HEAD"):
        same = host is not None and origin.lower().partition("://")[2] == host.lower()
        if not same:
            raise HTTPError(403, "a cross-site request is refused: call this endpoint "
                                 "from a forge's webhook or a script, not from a web page")
