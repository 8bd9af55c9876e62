"""The address a request came from, for the login lockout (django-axes).

Behind a TLS proxy every request's REMOTE_ADDR is the proxy's, so keying lockouts on it locks
everybody out after one person's wrong passwords. The client's own address is then in
X-Forwarded-For, but anybody can write that header: it is read only when the operator says
which proxies to believe, by count (TRUSTED_PROXY_COUNT) or by address (TRUSTED_PROXIES).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(value: str) -> str | None:
    """A valid IP address, normalised; None for anything else."""
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:443"
        value = value.split(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in proxies)


def resolve(
    remote_addr: str, forwarded_for: str, proxy_count: int, proxies: Sequence[Network]
) -> str:
    """The client's address from the socket's peer and the X-Forwarded-For chain.

    Each proxy appends the address it was reached from, so the chain reads right to left
    from our side: with `proxy_count` proxies in front, the client is that many entries from
    the right (the peer itself being the last proxy). With trusted networks instead, the
    client is the first address from the right that is not one of them. A request that did
    not come through the proxies (too short a chain, a peer not trusted) is keyed on its peer.
    """
    peer = _address(remote_addr) or remote_addr
    if not forwarded_for or (proxy_count <= 0 and not proxies):
        return peer
    chain = [_address(part) for part in forwarded_for.split(",")]
    if proxy_count > 0:
        if len(chain) < proxy_count:
            return peer
        return chain[-proxy_count] or peer
    if not _address(peer) or not _trusted(peer, proxies):
        return peer
    for hop in reversed(chain):
        if hop is None:
            return peer  # a garbled entry our proxy did not write: trust nothing left of it
        if not _trusted(hop, proxies):
            return hop
    return chain[0] or peer


def client_address(request: HttpRequest, *args: Any, **kwargs: Any) -> str:
    return resolve(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        settings.TRUSTED_PROXY_COUNT,
        settings.TRUSTED_PROXIES,
    )
