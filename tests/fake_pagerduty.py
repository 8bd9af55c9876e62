"""A fake PagerDuty Events API v2 that checks the contract and can be told to fail.

Used at the HTTP seam (``policies.http.transport``) in unit tests, and served over real HTTP
on 127.0.0.1 in end-to-end tests. It answers like PagerDuty: 202 with the dedup_key for a
valid event, 400 with the list of errors for an invalid one, or whatever it is scripted to.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

SEVERITIES = {"critical", "error", "warning", "info"}


def contract_errors(event: Any) -> list[str]:
    """What PagerDuty would refuse in this event (its published v2 rules)."""
    if not isinstance(event, dict):
        return ["event must be an object"]
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("routing_key must be 32 characters")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("event_action must be trigger, acknowledge or resolve")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("dedup_key must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("dedup_key is required to acknowledge or resolve")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "payload is required"]
        summary = payload.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 1024:
            errors.append("payload.summary must be 1 to 1024 characters")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            errors.append("payload.source is required")
        if payload.get("severity") not in SEVERITIES:
            errors.append("payload.severity must be critical, error, warning or info")
    if len(json.dumps(event)) > 512 * 1024:
        errors.append("event is over 512 KB")
    return errors


@dataclass
class FakePagerDuty:
    events: list[dict[str, Any]] = field(default_factory=list)  # accepted events, in order
    refused: list[dict[str, Any]] = field(default_factory=list)
    # Scripted answers, used first-in first-out before the normal behaviour:
    # an int status, (status, headers), or an exception instance to raise.
    script: deque[Any] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self.lock:
            scripted = self.script.popleft() if self.script else None
        if isinstance(scripted, BaseException):
            raise scripted
        if scripted is not None:
            status, headers = scripted if isinstance(scripted, tuple) else (scripted, {})
            return status, headers, {"status": "scripted", "message": f"scripted {status}"}
        try:
            event = json.loads(body)
        except ValueError:
            return (
                400,
                {},
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": ["not JSON"],
                },
            )
        errors = contract_errors(event)
        with self.lock:
            if errors:
                self.refused.append(event)
                return (
                    400,
                    {},
                    {
                        "status": "invalid event",
                        "message": "Event object is invalid",
                        "errors": errors,
                    },
                )
            self.events.append(event)
        return (
            202,
            {},
            {
                "status": "success",
                "message": "Event processed",
                "dedup_key": event.get("dedup_key"),
            },
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        """For httpx.MockTransport."""
        status, headers, body = self.answer(request.read())
        return httpx.Response(status, json=body, headers=headers)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def actions(self) -> list[tuple[str, str]]:
        return [(e["event_action"], e.get("dedup_key", "")) for e in self.events]
