"""PagerDuty, Events API v2: a trigger per transition that pages, a resolve when it is over,
all under the incident's dedup_key, so that PagerDuty folds renotifies into one alert.

Contract (developer.pagerduty.com, "Events API v2" / "Send an Alert Event"): POST to
PAGERDUTY_EVENTS_URL (EU accounts: https://events.eu.pagerduty.com/v2/enqueue); 202 accepted;
400 the event (or its routing key) is invalid: never retry; 429 and 5xx not taken: retry,
honouring Retry-After. summary at most 1024 characters, dedup_key 255, the whole event 512 KB.
The routing key in the body is the only credential: it appears in nothing but the request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from django.conf import settings

from policies import http
from policies.channels.base import (
    Event,
    Field,
    Notice,
    Result,
    Target,
    answered,
    no_answer,
    truncate,
)
from policies.masking import mask_secret as mask_credential

SUMMARY_LIMIT = 1024
SOURCE = "alerting-console"
KEY_RE = re.compile(r"[A-Za-z0-9]{32}")


def key_problem(value: str) -> str:
    """Why this is not a PagerDuty integration key ("" if it is one)."""
    if len(value) != 32:
        return f"A PagerDuty integration key is exactly 32 characters; this one has {len(value)}."
    if not KEY_RE.fullmatch(value):
        return "A PagerDuty integration key has only letters and digits."
    return ""


def trigger_event(notice: Notice, routing_key: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": notice.dedup_key,
        "payload": {
            "summary": truncate(notice.summary, SUMMARY_LIMIT),
            "source": SOURCE,
            "severity": notice.severity,
            "timestamp": notice.detected_at.isoformat(),
            # What the incident is surely about; the busiest team and model, which for a
            # platform-wide incident are not its owners, are in custom_details.
            "component": notice.model,
            "group": notice.team,
            "class": notice.policy_kind,
            "custom_details": dict(notice.details),
        },
        "client": "Alerting Console",
    }
    links = []
    if notice.incident_url:
        body["client_url"] = notice.incident_url
        links.append({"href": notice.incident_url, "text": "Incident in the Alerting Console"})
    if notice.runbook_url:
        links.append({"href": notice.runbook_url, "text": "Runbook"})
    if notice.silence_url:
        links.append({"href": notice.silence_url, "text": "Silence it"})
    if links:
        body["links"] = links
    # PagerDuty rejects empty optional strings less kindly than missing ones.
    body["payload"] = {k: v for k, v in body["payload"].items() if v != ""}
    return body


def resolve_event(routing_key: str, dedup_key: str) -> dict[str, Any]:
    return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}


def event_for(notice: Notice, routing_key: str) -> dict[str, Any]:
    if notice.event == Event.RESOLVE:
        return resolve_event(routing_key, notice.dedup_key)
    return trigger_event(notice, routing_key)


def post(event: dict[str, Any]) -> Result:
    """POST one event, within HTTP_TIMEOUT_SECONDS overall (policies/http.py)."""
    started = time.monotonic()
    try:
        reply = http.post_json(settings.PAGERDUTY_EVENTS_URL, event)
    except httpx.HTTPError as exc:
        return no_answer(exc, started)
    return answered(reply, started)


class PagerDuty:
    name: ClassVar[str] = "pagerduty"
    label: ClassVar[str] = "PagerDuty"
    credential_label: ClassVar[str] = "Integration key"
    credential_help: ClassVar[str] = (
        "The 32-character Integration Key from the service's Events API v2 integration in "
        "PagerDuty (its “routing key”)."
    )
    fields: ClassVar[tuple[Field, ...]] = ()

    def validate(self, secret: str, settings: Mapping[str, Any]) -> dict[str, str]:
        problem = key_problem(secret)
        return {"secret": problem} if problem else {}

    def deliver(self, notice: Notice, target: Target, reference: str) -> Result:
        return post(event_for(notice, target.secret))

    def render(self, notice: Notice, target: Target) -> Any:
        return event_for(notice, mask_credential(target.secret))
