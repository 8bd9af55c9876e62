"""A test event: a trigger and then its resolve, sent to one routing key, to check the key
and the path to PagerDuty. It reports PagerDuty's real answers, never an assumed success."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.utils import timezone

from policies import pagerduty
from policies.models import RoutingKey


@dataclass(frozen=True)
class ProbeResult:
    trigger: pagerduty.Answer
    resolve: pagerduty.Answer | None  # None when the trigger was not accepted

    @property
    def ok(self) -> bool:
        return self.trigger.accepted and self.resolve is not None and self.resolve.accepted

    def describe(self) -> str:
        parts = [f"trigger: {_describe(self.trigger)}"]
        if self.resolve is not None:
            parts.append(f"resolve: {_describe(self.resolve)}")
        return "; ".join(parts)


def _describe(answer: pagerduty.Answer) -> str:
    if answer.http_status is None:
        return f"no answer ({answer.error})"
    return f"HTTP {answer.http_status} {answer.excerpt[:200]}"


def send_probe(key: RoutingKey, sent_by: str) -> ProbeResult:
    dedup_key = f"alerting-console/test/{uuid.uuid4().hex[:12]}"
    summary = f"Test event from the Alerting Console for {key.name} (sent by {sent_by})"
    trigger = pagerduty.send(
        {
            "routing_key": key.integration_key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {
                "summary": summary,
                "source": pagerduty.SOURCE,
                "severity": "info",
                "timestamp": timezone.now().isoformat(),
                "custom_details": {"note": "A test; it resolves itself at once."},
            },
        }
    )
    resolve = None
    if trigger.accepted:
        resolve = pagerduty.send(
            {"routing_key": key.integration_key, "event_action": "resolve", "dedup_key": dedup_key}
        )
    now = timezone.now()
    if trigger.permanent:
        RoutingKey.objects.filter(pk=key.pk).update(
            refused_at=now, refusal=_describe(trigger)[:500]
        )
    elif trigger.accepted:
        RoutingKey.objects.filter(pk=key.pk).update(last_success_at=now)
    return ProbeResult(trigger, resolve)
