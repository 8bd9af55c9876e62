"""A test event: a trigger and then its resolve, sent to one routing key, to check the key
and the path to PagerDuty. It reports PagerDuty's real answers, never an assumed success, and
records what was sent (the key masked) and what came back with the key's deliveries."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from policies import pagerduty
from policies.models import Probe, RoutingKey

DEDUP_PREFIX = "alerting-console/test/"


@dataclass(frozen=True)
class ProbeResult:
    trigger: pagerduty.Answer
    resolve: pagerduty.Answer | None  # None when the trigger was not accepted
    record: Probe  # what was sent and answered, as the key's page lists it

    @property
    def ok(self) -> bool:
        return self.record.ok

    def describe(self) -> str:
        parts = [f"trigger: {_describe(self.trigger)}"]
        if self.resolve is not None:
            parts.append(f"resolve: {_describe(self.resolve)}")
        return "; ".join(parts)


def _describe(answer: pagerduty.Answer) -> str:
    if answer.http_status is None:
        return f"no answer ({answer.error})"
    return f"HTTP {answer.http_status} {answer.excerpt[:200]}"


def trigger_body(key: RoutingKey, sent_by: str, dedup_key: str, at: datetime) -> dict[str, Any]:
    return {
        "routing_key": key.integration_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": f"Test event from the Alerting Console for {key.name} (sent by {sent_by})",
            "source": pagerduty.SOURCE,
            "severity": "info",
            "timestamp": at.isoformat(),
            "custom_details": {"note": "A test; it resolves itself at once."},
        },
    }


def masked(body: dict[str, Any], key: RoutingKey) -> str:
    """The body as people may see it: the routing key masked, the rest as sent, in order."""
    return json.dumps({**body, "routing_key": key.masked_key}, indent=2, ensure_ascii=False)


def preview(key: RoutingKey, sent_by: str) -> tuple[str, str]:
    """What a test event would send, masked: the dedup key's end and the time are made when
    it is sent."""
    dedup_key = f"{DEDUP_PREFIX}<made when sent>"
    return (
        masked(trigger_body(key, sent_by, dedup_key, timezone.now()), key),
        masked(pagerduty.resolve_event(key.integration_key, dedup_key), key),
    )


def send_probe(key: RoutingKey, sent_by: str) -> ProbeResult:
    dedup_key = f"{DEDUP_PREFIX}{uuid.uuid4().hex[:12]}"
    sent_at = timezone.now()
    first = trigger_body(key, sent_by, dedup_key, sent_at)
    trigger = pagerduty.send(first)
    resolve = second = None
    if trigger.accepted:
        second = pagerduty.resolve_event(key.integration_key, dedup_key)
        resolve = pagerduty.send(second)
    now = timezone.now()
    if trigger.permanent:
        RoutingKey.objects.filter(pk=key.pk).update(
            refused_at=now, refusal=_describe(trigger)[:500]
        )
    elif trigger.accepted:
        RoutingKey.objects.filter(pk=key.pk).update(last_success_at=now)
    record = Probe.objects.create(
        routing_key=key,
        sent_by=sent_by[:150],
        sent_at=sent_at,
        trigger_body=masked(first, key),
        trigger_answer=_describe(trigger)[:500],
        resolve_body=masked(second, key) if second is not None else "",
        resolve_answer=_describe(resolve)[:500] if resolve is not None else "",
        ok=trigger.accepted and resolve is not None and resolve.accepted,
    )
    return ProbeResult(trigger, resolve, record)
