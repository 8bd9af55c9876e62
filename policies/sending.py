"""Sending outbox entries to their channels, and deciding what comes after each.

The channel's kind (``policies.channels``) builds the message, sends it and says what the
answer means:
- delivered: done; what the service gave back to address the message later (a Slack ts, a
  Discord message id) is kept for this incident's next messages on this channel;
- permanent (a refusal: a wrong key, a deleted webhook): not retried; the channel shows the
  refusal in the admin, and after CHANNEL_DISABLE_AFTER refusals in a row it is disabled;
- retry later (429, 5xx, timeouts, connection errors): retried with exponential backoff and
  jitter, waiting at least what the service asked (Retry-After), until
  DELIVERY_RETRY_SECONDS have passed.

No transaction or row lock is held while a service is called: a worker claims a task's
deliveries in a short transaction (their next attempt pushed past a lease, so that no other
worker or sweep sends them meanwhile), sends each on a thread of its own, then records the
answers as they come, in other short ones. Two workers never send one twice; a worker that
dies mid-send leaves it pending, and once the lease has passed it is sent again with the same
dedup key. Each channel goes its own way: a channel's messages of one
incident go out in order (a resolve waits for its own channel's trigger, never another's), and
once a channel hangs its other messages wait (``policies.channel_health``). Muting is not
decided here: the dispatch step decided it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from policies import channel_health, channels
from policies.channels.base import Notice, Result, Target, Verdict
from policies.models import Channel, Delivery, DeliveryAttempt, InboxMessage, IncidentEvent
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
    channel: Channel
    notice: Notice
    target: Target
    reference: str


def attempt_delivery(delivery_id: int, now: datetime | None = None) -> Outcome:
    return attempt_deliveries([delivery_id], now)[delivery_id]


def attempt_deliveries(
    delivery_ids: Sequence[int], now: datetime | None = None
) -> dict[int, Outcome]:
    """Claim the deliveries (one short transaction), send them with no transaction open, each
    on its own thread, and record the answers as they come (those that came together, in one
    short transaction).

    A transition's messages (one per channel) are handed over together: claiming and recording
    them in one go, with the incident read once, costs a fraction of doing it for each alone
    (``make bench-notify``). Sent side by side, a channel that hangs delays no other; an
    answer is recorded as soon as it comes, never kept waiting for a slower one."""
    now = now or timezone.now()
    claims, outcomes = _claim(list(dict.fromkeys(delivery_ids)), now)
    failure: BaseException | None = None
    for answers in _send(claims):
        # A defect, not an answer: the delivery stays claimed, and is sent again once its
        # lease has passed; the others' answers are recorded first.
        failure = failure or next((r for _, r in answers if isinstance(r, BaseException)), None)
        outcomes.update(_record_answers(_answered(answers), now))
    if failure is not None:
        raise failure
    return outcomes


_Sent = list[tuple[_Claim, Result | BaseException]]


def _answered(answers: _Sent) -> list[tuple[_Claim, Result]]:
    return [(claim, r) for claim, r in answers if not isinstance(r, BaseException)]


def _send(claims: list[_Claim]) -> Iterator[_Sent]:
    """Sends each claim on a thread of its own; yields the answers as they come, those that
    came together at once."""

    def send(claim: _Claim) -> Result:
        kind = channels.kind_of(claim.channel.kind)
        return kind.deliver(claim.notice, claim.target, claim.reference)

    if len(claims) == 1:
        yield [(claims[0], send(claims[0]))]
        return
    with ThreadPoolExecutor(max_workers=max(1, len(claims))) as pool:
        running = {pool.submit(send, claim): claim for claim in claims}
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            yield [(running.pop(future), future.exception() or future.result()) for future in done]


def _claim(delivery_ids: list[int], now: datetime) -> tuple[list[_Claim], dict[int, Outcome]]:
    """Decide which deliveries to send now, and take those for the lease: their next attempt
    is pushed past the lease, so that neither another worker nor the sweeper sends them
    meanwhile, and committed before anything goes out."""
    outcomes: dict[int, Outcome] = {}
    claims: list[_Claim] = []
    history: _History = []
    with transaction.atomic():
        _bookkeeping()
        locked = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("channel", "incident__policy", "incident__team")
            .filter(pk__in=delivery_ids, status=Delivery.Status.PENDING)
            .order_by("pk")
        )
        for pk in set(delivery_ids) - {d.pk for d in locked}:
            outcomes[pk] = Outcome("skipped: not pending, or another worker is claiming it")
        earlier = _earlier_messages(locked)
        notices: dict[tuple[int, str], Notice] = {}
        hangs: dict[int, bool] = {}
        for delivery in locked:
            decided = _decide_claim(delivery, earlier, hangs, now, history)
            if isinstance(decided, Outcome):
                outcomes[delivery.pk] = decided
                continue
            channel, reference = decided
            incident = delivery.incident
            if (incident.pk, delivery.action) not in notices:
                notices[incident.pk, delivery.action] = notice_for(incident, delivery.action)
            notice = replace(notices[incident.pk, delivery.action], delivery_id=delivery.pk)
            target = Target(
                channel.pk, channel.name, channel.secret, channel.settings, channel.signing_secret
            )
            claims.append(_Claim(delivery.pk, channel, notice, target, reference))
        if claims:
            # Counted when it starts: from here on, the service may get it.
            Delivery.objects.filter(pk__in=[c.delivery_id for c in claims]).update(
                attempts=F("attempts") + 1, next_attempt_at=now + lease()
            )
        _write(history)
    return claims, outcomes


# What the incident's history gets, written in one go when the transaction ends.
_History = list[IncidentEvent]
# Per incident and channel: (pk, status, reference) of its messages, oldest first.
_Earlier = dict[tuple[int, int | None], list[tuple[int, str, str]]]


def _earlier_messages(deliveries: list[Delivery]) -> _Earlier:
    """One read of the earlier messages of these deliveries' incidents (a few rows each)."""
    found: _Earlier = {}
    if not deliveries:
        return found
    rows = (
        Delivery.objects.filter(
            incident_id__in={d.incident_id for d in deliveries},
            channel_id__in={d.channel_id for d in deliveries},
            pk__lt=max(d.pk for d in deliveries),
        )
        .order_by("pk")
        .values_list("incident_id", "channel_id", "pk", "status", "reference")
    )
    for incident_id, channel_id, pk, status, reference in rows:
        found.setdefault((incident_id, channel_id), []).append((pk, status, reference))
    return found


def _decide_claim(
    delivery: Delivery, earlier: _Earlier, hangs: dict[int, bool], now: datetime, history: _History
) -> Outcome | tuple[Channel, str]:
    """Whether this delivery goes out now: its channel and the reference its message
    addresses, or what happens to it instead."""
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + DUE_SLACK:
        # A retry not due yet, or a claim of another worker. A duplicate (the sweeper, or an
        # older retry chain) does nothing: the task that set this time runs it then, or the
        # sweeper once a dead worker's lease has passed. Rescheduling here would multiply the
        # retries.
        return Outcome("skipped: not due yet, or another worker is sending it")
    channel = delivery.channel
    assert channel is not None  # noqa: S101 - only "no route" rows have none, never pending
    if channel.disabled:
        disabled = "not sent: the channel is disabled"
        return _finish(delivery, now, Delivery.Status.SKIPPED, disabled, history)
    before = [
        (status, reference)
        for pk, status, reference in earlier.get((delivery.incident_id, channel.pk), [])
        if pk < delivery.pk
    ]
    if any(status == Delivery.Status.PENDING for status, _ in before):
        return _wait(delivery, now, "an earlier message of this incident to this channel")
    if delivery.action == Delivery.Action.RESOLVE and not any(
        trigger_may_have_reached(d)
        for d in Delivery.objects.filter(
            incident_id=delivery.incident_id,
            channel=channel,
            pk__lt=delivery.pk,
            action__in=Delivery.PAGES,
        ).exclude(status=Delivery.Status.MUTED)
    ):
        never = "its page never reached this channel"
        return _finish(delivery, now, Delivery.Status.SKIPPED, never, history)
    if channel.pk not in hangs:
        hangs[channel.pk] = channel_health.hanging(channel, now)
    if hangs[channel.pk]:
        return _wait(delivery, now, "this channel's slow calls still being answered")
    return channel, next((ref for _, ref in before if ref), "")


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


def _record_answers(answers: list[tuple[_Claim, Result]], now: datetime) -> dict[int, Outcome]:
    if not answers:
        return {}
    outcomes = {}
    history: list[IncidentEvent] = []
    with transaction.atomic():
        _bookkeeping()
        # Locked in one order by every worker, deliveries and then channels (a channel's health
        # is noted below), or two workers could each hold what the other waits for.
        answers = sorted(answers, key=lambda answer: (answer[0].channel.pk, answer[0].delivery_id))
        rows = {
            row.pk: row
            for row in Delivery.objects.select_for_update()
            .filter(pk__in=[c.delivery_id for c, _ in answers])
            .order_by("pk")
        }
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(
                delivery_id=claim.delivery_id,
                at=now,
                duration_ms=result.duration_ms,
                http_status=result.http_status,
                response_excerpt=result.excerpt[:500],
                error=result.error[:500],
            )
            for claim, result in answers
        )
        for claim, result in answers:
            delivery = rows[claim.delivery_id]
            if delivery.status != Delivery.Status.PENDING:
                # This call outlived its lease and another worker finished the delivery: its
                # outcome stands.
                outcomes[delivery.pk] = Outcome(f"recorded late: already {delivery.status}")
            else:
                outcomes[delivery.pk] = _decide(delivery, claim.channel, result, now, history)
        _write(history)
    return outcomes


def _decide(
    delivery: Delivery, channel: Channel, result: Result, now: datetime, history: _History
) -> Outcome:
    """`channel` as the claim read it."""
    label = channels.kind_of(channel.kind).label
    channel_id = channel.pk
    if result.verdict == Verdict.DELIVERED:
        channel_health.note_success(channel, now)
        if result.kept is not None:
            InboxMessage.keep(channel_id, result.kept)
        if result.reference:
            delivery.reference = result.reference[:200]
        said = f" ({result.http_status})" if result.http_status else ""
        accepted = f"{label} accepted it{said}"
        return _finish(delivery, now, Delivery.Status.DELIVERED, accepted, history)
    outcome = result.describe()
    if result.verdict == Verdict.PERMANENT:
        channel_health.count_refusal(channel_id, now, outcome)
        refused = f"refused for good: {outcome}"
        return _finish(delivery, now, Delivery.Status.REFUSED, refused, history)
    if now - delivery.created_at >= timedelta(seconds=settings.DELIVERY_RETRY_SECONDS):
        return _finish(
            delivery,
            now,
            Delivery.Status.GAVE_UP,
            f"gave up after {delivery.attempts} attempts: {outcome}",
            history,
        )
    delay = backoff_seconds(delivery.attempts, result.retry_after)
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    delivery.last_error = outcome[:500]
    delivery.save(update_fields=["next_attempt_at", "last_error"])
    _record(
        delivery,
        now,
        f"attempt {delivery.attempts} failed ({outcome}); retrying in {delay:.0f} s",
        history,
    )
    return Outcome(f"retrying in {delay:.0f} s: {outcome}", delay)


def _finish(
    delivery: Delivery, now: datetime, status: str, message: str, history: _History
) -> Outcome:
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
    _record(delivery, now, message, history)
    return Outcome(f"{status}: {message}")


def _record(delivery: Delivery, now: datetime, message: str, history: _History) -> None:
    """Adds the outcome to the incident's history, written when the transaction ends."""
    history.append(
        IncidentEvent(
            incident_id=delivery.incident_id,
            at=now,
            kind=IncidentEvent.Kind.DELIVERY,
            message=f"{delivery.get_action_display()}: {message}"[:1000],
            data={"delivery": delivery.pk, "attempts": delivery.attempts},
        )
    )


def _write(history: _History) -> None:
    """Writes the outcomes to the incidents' histories; logs them once they are committed."""
    IncidentEvent.objects.bulk_create(history)
    transaction.on_commit(partial(_log, history))


def _log(history: _History) -> None:
    # The one log line per delivery outcome: with the engine's transitions, the log tells the
    # story.
    for event in history:
        logger.info(
            "delivery %s of incident %s: %s",
            event.data["delivery"],
            event.incident_id,
            event.message,
        )
