"""Whether a page may have reached its channel: what decides, when its incident resolves
first, between cancelling it (nothing is sent) and sending only the resolve.

A call that failed to connect sent nothing, and a 4xx (a refusal, a 429 "not now") says the
event was not taken: PagerDuty cannot have the alert. A 2xx opened it. Anything else (a 5xx; a
timeout after the body went out; a worker that died or is still in the call) may have, and
PagerDuty accepts a resolve for a dedup_key it never saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings

from policies.models import Delivery

# Errors raised before a request is on the wire (policies/channels/base.py records them as
# "<class name>: <message>"): httpx's, and the egress guard's refusal.
NOT_SENT_ERRORS = ("ConnectError", "ConnectTimeout", "AddressRefused")
# A claim lasts the call's deadline and this much more, to record its answer.
LEASE_MARGIN_SECONDS = 30.0


def lease() -> timedelta:
    """How long a claimed delivery is kept from other workers and the sweeper: the call's
    deadline and time to record its answer. A worker killed mid-send leaves the delivery to be
    sent again once its lease has passed."""
    return timedelta(seconds=settings.HTTP_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)


def may_have_reached(claims: int, recorded: Iterable[tuple[int | None, str]]) -> bool:
    """`claims`: calls started (Delivery.attempts); `recorded`: (HTTP status, error) of each
    call whose outcome was recorded."""
    outcomes = list(recorded)
    if claims > len(outcomes):
        return True  # a call in flight, or one whose worker died: it may have got there
    return any(_may_have_taken(status, error) for status, error in outcomes)


def _may_have_taken(status: int | None, error: str) -> bool:
    if status is None:
        return not error.startswith(NOT_SENT_ERRORS)
    return not 400 <= status < 500


def trigger_may_have_reached(delivery: Delivery) -> bool:
    if delivery.status == Delivery.Status.DELIVERED:
        return True
    recorded = delivery.attempts_made.values_list("http_status", "error")
    return may_have_reached(delivery.attempts, recorded)


def in_flight(delivery: Delivery, now: datetime) -> bool:
    """Claimed by a worker whose answer is not recorded yet, its lease still running: nobody
    else may touch it meanwhile (moving its next attempt forward would let a second worker
    send it; cancelling it would let its resolve overtake it)."""
    return (
        delivery.attempts > delivery.attempts_made.count()
        and delivery.next_attempt_at is not None
        and delivery.next_attempt_at > now
    )
