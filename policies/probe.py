"""A test message: a trigger and then its resolve, sent to one channel through the same code
as an incident's (its kind's ``deliver``), to check the credential and the path to the
service. It reports the service's real answers, never an assumed success, and records what
was sent (secrets masked) and what came back with the channel's deliveries."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from django.utils import timezone

from policies import channels
from policies.channels.base import Event, Notice, Result, Target
from policies.models import Channel, InboxMessage, Probe

DEDUP_PREFIX = "alerting-console/test/"


@dataclass(frozen=True)
class ProbeResult:
    trigger: Result
    resolve: Result | None  # None when the trigger was not accepted
    record: Probe  # what was sent and answered, as the channel's page lists it

    @property
    def ok(self) -> bool:
        return self.record.ok

    def describe(self) -> str:
        parts = [f"trigger: {self.trigger.describe()}"]
        if self.resolve is not None:
            parts.append(f"resolve: {self.resolve.describe()}")
        return "; ".join(parts)


def target_of(channel: Channel) -> Target:
    return Target(
        channel.pk, channel.name, channel.secret, channel.settings, channel.signing_secret
    )


def test_notice(channel: Channel, sent_by: str, dedup_key: str, at: datetime) -> Notice:
    return Notice(
        event=Event.TRIGGER,
        incident_id=0,
        dedup_key=dedup_key,
        summary=f"Test event from the Alerting Console for {channel.name} (sent by {sent_by})",
        severity="info",
        policy="Test message",
        rule="none: sent by hand to check the channel",
        policy_kind="",
        group="",
        group_label="everything",
        count=0,
        threshold=0,
        peak=0,
        window_seconds=0,
        started_at=at,
        detected_at=at,
        noticed_at=at,
        details={"note": "A test; it resolves itself at once."},
        test=True,
    )


def shown(channel: Channel, notice: Notice) -> str:
    """What the channel's kind would send for the notice, secrets masked, as people read it."""
    rendered = channels.kind_of(channel.kind).render(notice, target_of(channel))
    if isinstance(rendered, str):
        return rendered
    return json.dumps(rendered, indent=2, ensure_ascii=False, default=str)


def preview(channel: Channel, sent_by: str) -> tuple[str, str]:
    """What a test message would send, masked: the dedup key's end and the time are made when
    it is sent."""
    notice = test_notice(channel, sent_by, f"{DEDUP_PREFIX}<made when sent>", timezone.now())
    return shown(channel, notice), shown(channel, replace(notice, event=Event.RESOLVE))


def send_probe(channel: Channel, sent_by: str) -> ProbeResult:
    kind = channels.kind_of(channel.kind)
    target = target_of(channel)
    sent_at = timezone.now()
    first = test_notice(channel, sent_by, f"{DEDUP_PREFIX}{uuid.uuid4().hex[:12]}", sent_at)
    trigger = kind.deliver(first, target, "")
    resolve = second = None
    if trigger.accepted:
        second = replace(first, event=Event.RESOLVE, resolved_at=timezone.now())
        resolve = kind.deliver(second, target, trigger.reference)
    for answer in (trigger, resolve):
        if answer is not None and answer.kept is not None:
            InboxMessage.keep(channel.pk, answer.kept)
    now = timezone.now()
    if trigger.permanent:
        Channel.objects.filter(pk=channel.pk).update(
            refused_at=now, refusal=trigger.describe()[:500]
        )
    elif trigger.accepted:
        Channel.objects.filter(pk=channel.pk).update(last_success_at=now)
    record = Probe.objects.create(
        channel=channel,
        sent_by=sent_by[:150],
        sent_at=sent_at,
        trigger_body=shown(channel, first),
        trigger_answer=trigger.describe()[:500],
        resolve_body=shown(channel, second) if second is not None else "",
        resolve_answer=resolve.describe()[:500] if resolve is not None else "",
        ok=trigger.accepted and resolve is not None and resolve.accepted,
    )
    return ProbeResult(trigger, resolve, record)
