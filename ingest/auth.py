"""Bearer-token authentication of gateways.

Tokens are looked up by hash and kept in a small per-process cache for a few seconds
(INGEST_TOKEN_CACHE_SECONDS), so a busy gateway does not cost a query per post; disabling a
token takes effect within that time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from ingest.models import IngestToken, hash_token

# last_used_at is refreshed at most this often, so a busy gateway does not cost a write per post.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


@dataclass
class _Cached:
    token: IngestToken | None
    expires: float  # time.time(), which tests can move


_cache: dict[str, _Cached] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _lookup(token_hash: str) -> IngestToken | None:
    now = time.time()
    cached = _cache.get(token_hash)
    if cached is not None and cached.expires > now:
        return cached.token
    found = IngestToken.objects.select_related("team").filter(token_hash=token_hash).first()
    with _lock:
        if len(_cache) > 1000:  # unknown tokens are cached too: bound what a scanner can fill
            _cache.clear()
        _cache[token_hash] = _Cached(found, now + settings.INGEST_TOKEN_CACHE_SECONDS)
    return found


def authenticate(request: HttpRequest) -> IngestToken:
    header = request.META.get("HTTP_AUTHORIZATION", "")  # not .headers: it copies every header
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError(401, "missing token: send the header 'Authorization: Bearer <token>'")
    found = _lookup(hash_token(token))
    if found is None:
        raise AuthError(401, "unknown token")
    if not found.enabled:
        raise AuthError(403, f"token {found.token_prefix}… is disabled")
    _touch(found)
    return found


def _touch(token: IngestToken) -> None:
    now = timezone.now()
    if token.last_used_at is not None and token.last_used_at >= now - LAST_USED_RESOLUTION:
        return
    token.last_used_at = now  # the cached copy: this process writes again in a minute at most
    IngestToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
