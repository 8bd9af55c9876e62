"""Bearer-token authentication of gateways."""

from __future__ import annotations

from datetime import timedelta

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


def authenticate(request: HttpRequest) -> IngestToken:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError(401, "missing token: send the header 'Authorization: Bearer <token>'")
    found = IngestToken.objects.select_related("team").filter(token_hash=hash_token(token)).first()
    if found is None:
        raise AuthError(401, "unknown token")
    if not found.enabled:
        raise AuthError(403, f"token {found.token_prefix}… is disabled")
    now = timezone.now()
    if found.last_used_at is None or found.last_used_at < now - LAST_USED_RESOLUTION:
        IngestToken.objects.filter(pk=found.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
    return found
