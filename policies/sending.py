"""Sending one outbox entry to its channel, and deciding what comes after.

The channel's kind (``policies.channels``) builds the message, sends it and says what the
answer means:
- delivered: done; what the service gave back to address the message later (a Slack ts, a
  Discord message id) is kept for this incident's next messages on this channel;
- permanent (a refusal: a wrong key, a deleted webhook): not retried; the channel shows the
  refusal in the admin, and after CHANNEL_DISABLE_AFTER refusals in a row it is disabled;
- retry later (429, 5xx, timeouts, connection errors): retried with exponential backoff and
  jitter, waiting at least what the service asked (Retry-After), until
  DELIVERY_RETRY_SECONDS have passed.

No transaction or row lock is held while a service is called: a worker claims the delivery in
a short transaction (its next attempt pushed past a lease, so that no other worker or sweep
sends it meanwhile), sends it, then records the answer in another. Two workers never send it
twice; a worker that dies mid-send leaves it pending, and once the lease has passed it is sent
again with the same dedup key. Each channel goes its own way: a channel's messages of one
incident go out in order (a resolve waits for its own channel's trigger, never another's), and
once a channel hangs its other messages wait (``policies.channel_health``). Muting is not
decided here: the dispatch step decided it.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from policies import channel_health, channels
from policies.channels.base import Notice, Result, Target, Verdict
from policies.models import Delivery, DeliveryAttempt, InboxMessage, IncidentEvent
from policies.notice import notice_for
from policies.reach import lease, trigger_may_have_reached

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 300.0
ORDER_WAIT_SECONDS = 2.0
# A retry task may wake a little early: within this, it counts as due.
DUE_SLACK = timedelta(seconds=1)


@dataclass(frozen=True)
class Outcome:
    message: str
    retry_in: float | None = None  # seconds, when the task should run again


def backoff_seconds(
    attempts: int, retry_after: float | None, rng: random.Random | None = None
) -> float:
    """Exponential, capped, with jitter (between half and all of it); never sooner than the
    service's Retry-After."""
    exponential = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** max(0, attempts - 1))
    # Jitter spreads retries of many deliveries apart; it needs no cryptographic randomness.
    jitter: float = (rng or random.Random()).uniform(0.5, 1.0)  # noqa: S311
    return max(exponential * jitter, retry_after or 0.0)


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    channel_id: int
    kind: str
    notice: Notice
    target: Target
    reference: str


def attempt_delivery(delivery_id: int, now: datetime | None = None) -> Outcome:
    """Claim the delivery (a short transaction), send it with no transaction open, then
    record what came of it (another short one)."""
    now = now or timezone.now()
    claim = _claim(delivery_id, now)
    if isinstance(claim, Outcome):
        return claim
    result = channels.kind_of(claim.kind).deliver(claim.notice, claim.target, claim.reference)
    return _record_answer(claim, result, now)


def _claim(delivery_id: int, now: datetime) -> _Claim | Outcome:
    """Decide whether to send now, and if so, take the delivery for the lease: its next
    attempt is pushed past the lease, so that neither another worker nor the sweeper sends
    it meanwhile, and committed before anything goes out."""
    with transaction.atomic():
        _bookkeeping()
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("channel", "incident__policy", "incident__team")
            .filter(pk=delivery_id, status=Delivery.Status.PENDING)
            .first()
        )
        if delivery is None:
            return Outcome("skipped: not pending, or another worker is claiming it")
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + DUE_SLACK:
            # A retry not due yet, or a claim of another worker. A duplicate (the sweeper, or
            # an older retry chain) does nothing: the task that set this time runs it then, or
            # the sweeper once a dead worker's lease has passed. Rescheduling here would
            # multiply the retries.
            return Outcome("skipped: not due yet, or another worker is sending it")
        channel = delivery.channel
        assert channel is not None  # noqa: S101 - only "no route" rows have none, never pending
        if channel.disabled:
            return _finish(
                delivery, now, Delivery.Status.SKIPPED, "not sent: the channel is disabled"
            )
        incident = delivery.incident
        earlier = Delivery.objects.filter(incident=incident, channel=channel, pk__lt=delivery.pk)
        # One read of this channel's earlier messages of the incident (a few rows at most):
        # whether one is still to be sent, and the reference the first delivered one left.
        before = list(earlier.order_by("pk").values_list("status", "reference"))
        if any(status == Delivery.Status.PENDING for status, _ in before):
            return _wait(delivery, now, "an earlier message of this incident to this channel")
        if delivery.action == Delivery.Action.RESOLVE and not any(
            trigger_may_have_reached(d)
            for d in earlier.filter(action__in=Delivery.PAGES).exclude(status=Delivery.Status.MUTED)
        ):
            return _finish(
                delivery, now, Delivery.Status.SKIPPED, "its page never reached this channel"
            )
        if channel_health.hanging(channel, now):
            return _wait(delivery, now, "this channel's slow calls still being answered")
        reference = next((ref for _, ref in before if ref), "")
        notice = replace(notice_for(incident, delivery.action), delivery_id=delivery.pk)
        target = Target(
            channel.pk, channel.name, channel.secret, channel.settings, channel.signing_secret
        )
        # Counted when it starts: from here on, the service may get it.
        delivery.attempts += 1
        delivery.next_attempt_at = now + lease()
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return _Claim(delivery.pk, channel.pk, channel.kind, notice, target, reference)


def _bookkeeping() -> None:
    """The claim and the record commit without waiting for the disk (Postgres's
    synchronous_commit, for this transaction only): a crash could lose the last fraction of a
    second of them, which leaves the delivery pending and sends it again once its lease has
    passed, as for a worker killed mid-send, with the same dedup key. Waiting for the disk
    twice was most of a delivery's cost (make bench-notify); the transitions that write the
    outbox still wait for it, so no page is ever lost."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _wait(delivery: Delivery, now: datetime, reason: str) -> Outcome:
    delivery.next_attempt_at = now + timedelta(seconds=ORDER_WAIT_SECONDS)
    delivery.save(update_fields=["next_attempt_at"])
    return Outcome(f"waiting: {reason} is not done yet", ORDER_WAIT_SECONDS)


def _record_answer(claim: _Claim, result: Result, now: datetime) -> Outcome:
    with transaction.atomic():
        _bookkeeping()
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("incident", "channel")
            .get(pk=claim.delivery_id)
        )
        DeliveryAttempt.objects.create(
            delivery=delivery,
            at=now,
            duration_ms=result.duration_ms,
            http_status=result.http_status,
            response_excerpt=result.excerpt[:500],
            error=result.error[:500],
        )
        if delivery.status != Delivery.Status.PENDING:
            # This call outlived its lease and another worker finished the delivery: its
            # outcome stands.
            return Outcome(f"recorded late: already {delivery.status}")
        return _decide(delivery, claim.channel_id, result, now)


def _decide(delivery: Delivery, channel_id: int, result: Result, now: datetime) -> Outcome:
    label = channels.kind_of(delivery.channel.kind).label if delivery.channel else "the service"
    if result.verdict == Verdict.DELIVERED:
        channel_health.note_success(delivery.channel, channel_id, now)
        if result.kept is not None:
            InboxMessage.keep(channel_id, result.kept)
        if result.reference:
            delivery.reference = result.reference[:200]
        said = f" ({result.http_status})" if result.http_status else ""
        return _finish(delivery, now, Delivery.Status.DELIVERED, f"{label} accepted it{said}")
    outcome = result.describe()
    if result.verdict == Verdict.PERMANENT:
        channel_health.count_refusal(channel_id, now, outcome)
        return _finish(delivery, now, Delivery.Status.REFUSED, f"refused for good: {outcome}")
    if now - delivery.created_at >= timedelta(seconds=settings.DELIVERY_RETRY_SECONDS):
        return _finish(
            delivery,
            now,
            Delivery.Status.GAVE_UP,
            f"gave up after {delivery.attempts} attempts: {outcome}",
        )
    delay = backoff_seconds(delivery.attempts, result.retry_after)
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    delivery.last_error = outcome[:500]
    delivery.save(update_fields=["next_attempt_at", "last_error"])
    _record(
        delivery,
        now,
        f"attempt {delivery.attempts} failed ({outcome}); retrying in {delay:.0f} s",
    )
    return Outcome(f"retrying in {delay:.0f} s: {outcome}", delay)


def _finish(delivery: Delivery, now: datetime, status: str, message: str) -> Outcome:
    delivery.status = status
    delivery.finished_at = now
    delivery.next_attempt_at = None
    # A delivered page shows no error: an earlier attempt's is in its attempts, not here.
    delivery.last_error = "" if status == Delivery.Status.DELIVERED else message[:500]
    delivery.save(
        update_fields=[
            "status", "finished_at", "next_attempt_at", "attempts", "last_error", "reference",
        ]
    )  # fmt: skip
    _record(delivery, now, message)
    return Outcome(f"{status}: {message}")


def _record(delivery: Delivery, now: datetime, message: str) -> None:
    IncidentEvent.objects.create(
        incident=delivery.incident,
        at=now,
        kind=IncidentEvent.Kind.DELIVERY,
        message=f"{delivery.get_action_display()}: {message}"[:1000],
        data={"delivery": delivery.pk, "attempts": delivery.attempts},
    )
    # The one log line per delivery outcome: with the engine's transitions, the log tells the
    # story.
    logger.info(
        "delivery %s (%s of incident %s, channel #%s): %s",
        delivery.pk,
        delivery.get_action_display().lower(),
        delivery.incident_id,
        delivery.channel_id,
        message,
    )
