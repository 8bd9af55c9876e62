"""A fake receiver of our signed webhooks, checking what a careful receiver checks.

Used at the HTTP seam (``policies.http.transport``) through ``transport()``. It verifies each
request with the official Standard Webhooks library (``standardwebhooks``, as a receiver
would: ../shared/reference/channels.md section 4) and answers:
- 401 for a missing or bad signature, or a timestamp over 5 minutes away (the library's
  tolerance);
- 415 for a Content-Type other than application/json;
- 413 for a body over 20 KB (the spec: keep payloads under 20 KB);
- 400 for a body that is not our version 1 document;
- 204 for a message it already took (the same ``webhook-id``): the spec's idempotency;
- else 200, after recording the body.
``script`` answers first: a status int, (status, headers) or (status, headers, json-body), or
an exception instance to raise.
"""

from __future__ import annotations

import binascii
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from standardwebhooks import Webhook, WebhookVerificationError

BODY_LIMIT = 20 * 1024
TYPES = {"incident.triggered", "incident.renotified", "incident.resolved", "test"}


@dataclass
class FakeReceiver:
    secret: str  # the channel's whsec_ signing secret
    bodies: list[dict[str, Any]] = field(default_factory=list)  # accepted documents, in order
    requests: list[httpx.Request] = field(default_factory=list)  # every request, accepted or not
    refused: list[tuple[int, str]] = field(default_factory=list)  # (status, why)
    script: deque[Any] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: set[str] = field(default_factory=set)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """For httpx.MockTransport."""
        raw = request.read()
        with self.lock:
            self.requests.append(request)
            scripted = self.script.popleft() if self.script else None
        if isinstance(scripted, BaseException):
            raise scripted
        if scripted is not None:
            if isinstance(scripted, int):
                scripted = (scripted, {})
            status, headers, *answer = scripted
            return httpx.Response(status, headers=headers, json=answer[0] if answer else None)
        status, why = self.check(raw, dict(request.headers))
        if status != 200:
            with self.lock:
                self.refused.append((status, why))
            return httpx.Response(status, json={"error": why})
        with self.lock:
            message_id = request.headers["webhook-id"]
            if message_id in self._ids:
                return httpx.Response(204)
            self._ids.add(message_id)
            self.bodies.append(json.loads(raw))
        return httpx.Response(200, json={"received": True})

    def check(self, raw: bytes, headers: dict[str, str]) -> tuple[int, str]:
        if headers.get("content-type") != "application/json":
            return 415, "Content-Type must be application/json"
        try:
            document = Webhook(self.secret).verify(raw, headers)
        except (WebhookVerificationError, binascii.Error, ValueError) as exc:
            # A malformed base64 signature raises binascii.Error, not the library's error.
            return 401, f"signature: {exc}"
        if len(raw) > BODY_LIMIT:
            return 413, "over 20 KB"
        if not isinstance(document, dict) or document.get("version") != 1:
            return 400, "not a version 1 document"
        if document.get("type") not in TYPES or not isinstance(document.get("incident"), dict):
            return 400, "unknown type or no incident"
        return 200, ""

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def types(self) -> list[str]:
        return [body["type"] for body in self.bodies]
