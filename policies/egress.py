"""The egress guard: where a URL that a person entered (a webhook) may lead.

A team editor types the URL, the console's worker calls it: without a guard, that is a way
into the console's own network (the cloud metadata service at 169.254.169.254, Redis on
127.0.0.1, an admin page on 10.x). The rules, as Sentry (``safe_create_connection``),
healthchecks (``OPENSOCKETFUNCTION``) and GitLab (DNS-rebinding protection) apply them
(shared/reference/channels.md, section 7):

- the scheme is ``https``; ``http`` only when NOTIFY_ALLOW_HTTP is set;
- the URL carries no credentials (``user:password@``) and names a host;
- every address the host resolves to is public (``ipaddress``'s ``is_global``: loopback,
  private, link-local, carrier-grade NAT's 100.64.0.0/10 and reserved ranges are not; nor is
  multicast, though ``is_global`` allows it), unless it falls in
  NOTIFY_ALLOWED_PRIVATE_NETWORKS. An IPv4-mapped address (``::ffff:127.0.0.1``) is judged as
  the IPv4 address it is; a 6to4 (``2002::/16``) or NAT64 (``64:ff9b::/96``) one also as the
  IPv4 address it carries. One refused address refuses the whole host: a name that resolves
  to a public and a private address is someone's trick;
- checked again when the connection is opened, not only when the form is saved: a name can
  resolve to a public address then and to 127.0.0.1 later (DNS rebinding). ``GuardedBackend``
  resolves the host once, checks every address, and connects to one it checked; TLS still
  uses the host name for SNI and the certificate check.

Why an httpcore network backend: it is the one layer that sees the host name and opens the
socket, so nothing can resolve the name a second time between the check and the connect.
httpx 0.28 does not take a network backend, so ``GuardedTransport`` is httpx's own
``HTTPTransport`` (its request conversion and error mapping kept) with its connection pool
replaced by one that uses the guard. (An egress proxy such as smokescreen is the other
answer, and the stronger one where the network allows it; this needs no extra service.)
Environment proxies (HTTPS_PROXY) are not used for these calls: the guard must see the
address it connects to.

Messages name the host and the reason, never the URL's path or query: they hold secrets.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

from policies import tls

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
HOST_RE = re.compile(r"[A-Za-z0-9._-]+")
ALLOW_HINT = "NOTIFY_ALLOWED_PRIVATE_NETWORKS can allow it"


class AddressRefused(httpx.ConnectError):
    """The egress guard refused the destination: it is not a public address, or not a scheme
    allowed. Never retried: the address will not change by itself."""


def schemes() -> tuple[str, ...]:
    return ("https", "http") if settings.NOTIFY_ALLOW_HTTP else ("https",)


def url_problem(url: str) -> str:
    """Why this URL may not be called ("" if it may), without looking the host up: for forms
    and apply_config. The host's addresses are checked by ``address_problem`` and again at
    every connection."""
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError, TypeError):
        return "This is not a valid URL."
    allowed = schemes()
    if parsed.scheme not in allowed:
        if parsed.scheme == "http":
            return "Only https URLs are allowed (NOTIFY_ALLOW_HTTP is off)."
        return f"The URL must start with {' or '.join(s + '://' for s in allowed)}."
    if parsed.userinfo:
        return "The URL must not carry a user name or password (user:password@)."
    host = parsed.host
    if not host:
        return "The URL names no host."
    if port is not None and not 0 < port < 65536:
        return f"The port {port} is not a valid port."
    literal = literal_address(host)
    if literal is not None:
        problem = ip_problem(literal)
        return f"{host} is {problem}: refused ({ALLOW_HINT})." if problem else ""
    if not HOST_RE.fullmatch(parsed.raw_host.decode("ascii", errors="replace")):
        return f"{parsed.raw_host.decode('ascii', errors='replace')} is not a valid host name."
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        problem = ip_problem(ipaddress.ip_address("127.0.0.1"))
        return f"{host} is {problem}: refused ({ALLOW_HINT})." if problem else ""
    return ""


def address_problem(host: str, port: int = 443) -> str:
    """Why `host` may not be called ("" if it may): it does not resolve, or an address it
    resolves to is refused. Looks the name up: for forms, where a typo should show at once."""
    try:
        checked_addresses(host, port)
    except AddressRefused as exc:
        return str(exc)
    except httpcore.ConnectError as exc:
        return str(exc)
    return ""


def refused_destination(url: str) -> str:
    """Why the guard refuses the URL's host, as its name resolves now ("" if it does not, or
    if the name does not resolve at the moment: a lookup that may work later is no reason to
    refuse a form; the send checks again). Names the host, never the URL's path or query."""
    parts = urlsplit(url)
    if not parts.hostname:
        return ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        checked_addresses(parts.hostname, port)
    except AddressRefused as exc:
        return str(exc)
    except httpcore.ConnectError:
        return ""
    return ""


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as one means, as the resolver reads it: also the short
    and numeric IPv4 forms (``127.1``, ``2130706433``, ``0x7f.1``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def ip_problem(ip: IPAddress) -> str:
    """What is wrong with connecting to `ip` ("" if nothing), in words: "a loopback
    address", "an IPv6 form of 10.0.0.1, a private address"."""
    candidates = _judged(ip)
    allowed = settings.NOTIFY_ALLOWED_PRIVATE_NETWORKS
    if any(candidate in network for candidate in candidates for network in allowed):
        return ""
    for candidate in candidates:
        if not candidate.is_global or candidate.is_multicast:
            kind = _kind(candidate)
            return kind if candidate == ip else f"an IPv6 form of {candidate}, {kind}"
    return ""


def _judged(ip: IPAddress) -> list[IPAddress]:
    """The addresses `ip` is judged as: an IPv4-mapped one is that IPv4 address (the socket
    connects to it); a 6to4 or NAT64 one is itself and the IPv4 address it carries."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return [ip]
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip, ip.sixtofour]
    if ip in NAT64:
        return [ip, ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return [ip]


def _kind(ip: IPAddress) -> str:
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if ip in CGNAT:
        return "in carrier-grade NAT's shared range (100.64.0.0/10)"
    if ip.is_multicast:  # which is_global lets through
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    return "not a public address"


def checked_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, once, each checked. Raises AddressRefused naming the
    host and the first refused address, or httpcore.ConnectError if it does not resolve (a
    lookup that may work later)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"{host} does not resolve ({exc})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise httpcore.ConnectError(f"{host} does not resolve")
    for address in addresses:
        problem = ip_problem(ipaddress.ip_address(address))
        if problem:
            said = f"{host} is" if address == host else f"{host} resolves to {address},"
            raise AddressRefused(f"{said} {problem}: refused ({ALLOW_HINT})")
    return addresses


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the guard checked."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        *others, last = checked_addresses(host, port)
        for address in others:  # as socket.create_connection: the first that answers
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return super().connect_tcp(last, port, timeout, local_address, socket_options)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport, its connections opened through the guard (see the module doc)."""

    def __init__(self) -> None:
        ssl_context = tls.context()
        super().__init__(verify=ssl_context)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=GuardedBackend()
        )
