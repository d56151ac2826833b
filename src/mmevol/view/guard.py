"""Which requests the viewer answers at all: the Host check and the same-origin check for writes.

This module owns the two request checks that run before any route. The *Host check* defeats
DNS rebinding (a page on ``evil.example`` whose name is re-pointed at 127.0.0.1 would otherwise
be same-origin with the viewer and could read every sample): a request is answered only when
its single ``Host`` header names a loopback address (``localhost``, any ``127.x.y.z``,
``[::1]``, IPv4-mapped loopback), the ``--host`` the server was started with, or the address
the connection actually arrived on (the ASGI ``server`` entry: under uvicorn the socket's own IP
literal, which no DNS answer can change); upper case, a trailing dot and an empty port are
allowed, anything else (user info, paths, zone ids, ``127.1``, ``127.0.0.1.evil.example``, a
missing or repeated Host) is refused. The *origin check* refuses a write that a browser says
comes from elsewhere: ``Sec-Fetch-Site`` cross-site or same-site, ``Origin: null``, more than
one Origin, or an Origin whose scheme, host or port differ from what this request addressed.
A write with no Origin at all (a script, not a browser) passes; the Host check still applies.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.requests import Request

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_HOST = 300
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_PORT = re.compile(r"[0-9]{1,5}")
_ORIGIN = re.compile(r"([a-z][a-z0-9+.-]*)://([^/?#]*)")


@dataclass(frozen=True)
class Authority:
    """A parsed ``host[:port]``: ``name`` is canonical (lower case, no trailing dot, IP literals
    in their standard form, IPv4-mapped IPv6 as IPv4); ``port`` is None when absent or empty."""

    name: str
    port: int | None
    ip: bool


def _canonical_ip(text: str) -> str | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return None
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
    return str(ip)


def _canonical_name(text: str) -> tuple[str, bool] | None:
    """A DNS name or dotted IPv4 literal, canonical; None for anything else."""
    name = text.lower()
    if name.endswith("."):
        name = name[:-1]
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if labels[-1].isdigit():  # all-numeric ending: only a plain dotted quad, never 127.1 etc.
        ip = _canonical_ip(name) if len(labels) == 4 else None
        return (ip, True) if ip is not None and ":" not in ip else None
    return name, False


def _split(value: str) -> tuple[str, bool, str] | None:
    """(canonical name, is an IP literal, the rest after the host) of ``host[:port]``."""
    if value.startswith("["):
        end = value.find("]")
        inner = value[1:end] if end > 0 else ""
        ip = _canonical_ip(inner) if ":" in inner else None
        return (ip, True, value[end + 1 :]) if ip is not None else None
    host, sep, port_text = value.partition(":")
    parsed = _canonical_name(host)
    return (*parsed, sep + port_text) if parsed is not None else None


def parse_authority(value: str) -> Authority | None:
    """``host[:port]`` as a Host header or an Origin carries it, or None when malformed."""
    if not value or len(value) > MAX_HOST or not value.isascii() or not value.isprintable():
        return None
    split = _split(value)
    if split is None:
        return None
    name, ip, rest = split
    port: int | None = None
    if rest:
        digits = rest[1:]
        if not rest.startswith(":") or (digits and not _PORT.fullmatch(digits)):
            return None
        if digits:
            port = int(digits)
            if not 0 < port < 65536:
                return None
    return Authority(name, port, ip)


def is_loopback(name: str) -> bool:
    """True for ``localhost`` and loopback IP literals (canonical names from this module)."""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def canonical_host(host: str) -> str | None:
    """A bind address or server name (``::1`` without brackets, ``0.0.0.0``, a host name)."""
    ip = _canonical_ip(host.strip("[]"))
    if ip is not None:
        return ip
    found = parse_authority(host)
    return found.name if found is not None and found.port is None else None


class HostGuard:
    """The Host and origin checks of one server (``bind``: the ``--host`` it was started with)."""

    def __init__(self, bind: str | None = None, extra: Iterable[str] = ()) -> None:
        names = {canonical_host(h) for h in (bind or "", *extra) if h}
        self.allowed = {n for n in names if n is not None}

    def host(self, request: Request) -> Authority | None:
        """The request's Host when it is one this server answers to, else None."""
        values = [v for k, v in request.scope.get("headers", ()) if k.lower() == b"host"]
        if len(values) != 1:
            return None
        try:
            found = parse_authority(values[0].decode("ascii"))
        except UnicodeDecodeError:
            return None
        if found is None:
            return None
        server = request.scope.get("server")
        own = canonical_host(str(server[0])) if server and server[0] else None
        if is_loopback(found.name) or found.name in self.allowed or found.name == own:
            return found
        return None

    def same_origin(self, request: Request, host: Authority) -> bool:
        """False when a browser says the request comes from another origin."""
        if request.headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
            return False
        origins = request.headers.getlist("origin")
        if not origins:
            return True
        if len(origins) > 1:
            return False
        match = _ORIGIN.fullmatch(origins[0].strip().lower())
        if match is None:
            return False  # "null", paths, garbage
        scheme, authority = match.groups()
        origin = parse_authority(authority)
        served = str(request.scope.get("scheme", "http")).lower()
        if origin is None or scheme != served or scheme not in DEFAULT_PORTS:
            return False
        default = DEFAULT_PORTS[scheme]
        return origin.name == host.name and (origin.port or default) == (host.port or default)
