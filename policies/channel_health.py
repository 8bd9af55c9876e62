"""A channel's health, as the worker keeps it: the last message it accepted, the refusals in a
row that disable it, and whether it hangs.

A channel that hangs holds no more than CHANNEL_MAX_IN_FLIGHT workers: once that many of its
calls have gone unanswered for SLOW_CALL_SECONDS, its other messages wait. One that answered
within SLOW_CALL_SECONDS is not hanging, and is never held back.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F

from policies.models import Channel, Delivery
from policies.reach import lease

logger = logging.getLogger(__name__)

# A call to a channel unanswered after this long counts towards CHANNEL_MAX_IN_FLIGHT.
SLOW_CALL_SECONDS = 2.0


def hanging(channel: Channel, now: datetime) -> bool:
    """Whether the channel's next message should wait for its slow calls to end."""
    if answered_lately(channel, now):
        return False
    return slow_calls_in_flight(channel, now) >= settings.CHANNEL_MAX_IN_FLIGHT


def note_success(channel: Channel, now: datetime) -> None:
    """The channel (as the claim read it) accepted a message: its refusals in a row start
    again."""
    if channel.refusals_in_a_row or not answered_lately(channel, now):
        # So soon after the last success, another changes nothing worth a write.
        Channel.objects.filter(pk=channel.pk).update(last_success_at=now, refusals_in_a_row=0)


def answered_lately(channel: Channel, now: datetime) -> bool:
    """The channel accepted a message within SLOW_CALL_SECONDS: it is answering, not hanging,
    and its calls need not be counted (a query saved on nearly every delivery of a burst)."""
    last = channel.last_success_at
    return last is not None and now - last < timedelta(seconds=SLOW_CALL_SECONDS)


def slow_calls_in_flight(channel: Channel, now: datetime) -> int:
    """Calls to this channel that a worker started over SLOW_CALL_SECONDS ago and that have
    not answered yet (claimed, lease still running, no attempt recorded): a channel that
    hangs. Calls that answer quickly never count, so a busy channel is never held back."""
    started_before = now - timedelta(seconds=SLOW_CALL_SECONDS)
    return (
        Delivery.objects.filter(
            channel=channel,
            status=Delivery.Status.PENDING,
            attempts__gt=0,
            next_attempt_at__gt=now,
            next_attempt_at__lte=started_before + lease(),
        )
        .annotate(recorded=Count("attempts_made"))
        .filter(attempts__gt=F("recorded"))
        .count()
    )


def count_refusal(channel_id: int, now: datetime, outcome: str) -> None:
    """A permanent failure: shown on the channel; CHANNEL_DISABLE_AFTER of them in a row
    disable it until a person enables it again."""
    channel = Channel.objects.select_for_update().get(pk=channel_id)
    channel.refused_at = now
    channel.refusal = outcome[:500]
    channel.refusals_in_a_row += 1
    fields = ["refused_at", "refusal", "refusals_in_a_row"]
    if channel.refusals_in_a_row >= settings.CHANNEL_DISABLE_AFTER and not channel.disabled:
        channel.disabled_at = now
        channel.disabled_reason = (
            f"{channel.refusals_in_a_row} refusals in a row; the last: {outcome}"
        )[:500]
        fields += ["disabled_at", "disabled_reason"]
        logger.warning(
            "channel %s (%s) disabled after %s refusals in a row",
            channel.pk,
            channel.name,
            channel.refusals_in_a_row,
        )
    Channel.objects.filter(pk=channel_id).update(**{f: getattr(channel, f) for f in fields})
