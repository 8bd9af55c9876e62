"""The one dispatch step: an incident's transition (opened, renotify, resolved, no longer
muted) becomes one outbox row per channel, in the transaction of the state change.

Muting is decided here, once: a page that a silence or maintenance mode mutes is written as a
"muted" row per channel and not sent; the evaluation that finds the incident still open once
the mute is over pages it then (``page_unmuted``). What was paged is told by these rows, not
by a flag: an incident whose pages are all muted has not paged anyone.

The engine records transitions and calls this; it knows nothing of channels. The worker
(``policies.sending``) sends the rows and decides nothing about muting.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet

from policies import muting, routing
from policies.handover import deliver_after_commit
from policies.models import Channel, Delivery, Incident, IncidentEvent, IncidentStatus
from policies.reach import in_flight, trigger_may_have_reached

logger = logging.getLogger(__name__)

PAGES = Delivery.PAGES


def opened(incident: Incident, now: datetime) -> None:
    """The incident just opened: page the channels its routes name, unless it is muted."""
    channels = routing.channels_for(incident.team, incident.key_alias or None, incident.policy.kind)
    muted = muting.why_muted(muting.subject_of(incident), now)
    opening = f"Opened: {incident.summary}"
    if muted:
        _mute(incident, channels, now, muted)
        event(incident, now, IncidentEvent.Kind.OPENED, f"{opening}.")
        event(incident, now, IncidentEvent.Kind.MUTED, f"Not paged: {muted}.")
        return
    event(incident, now, IncidentEvent.Kind.OPENED, f"{opening}; paging {_names(channels)}.")
    _page(incident, channels, Delivery.Action.TRIGGER, now)


def renotify(incident: Incident, now: datetime) -> None:
    """Still open after renotify_seconds: remind the channels its trigger went to."""
    channels = _still_paged(incident, now, "Still open; not paged again")
    if not channels:
        return  # no route when it opened: nobody to remind (its "no route" row says so)
    event(
        incident,
        now,
        IncidentEvent.Kind.RENOTIFIED,
        f"Still open: paging {_names(channels)} again.",
    )
    _page(incident, channels, Delivery.Action.RENOTIFY, now)


def severity_changed(incident: Incident, now: datetime) -> None:
    """Its severity changed: tell the channels its page went to (a muted incident, or one
    never paged, is paged with its severity when it is)."""
    channels = _still_paged(incident, now, "Not told of its severity")
    if channels:
        _page(incident, channels, Delivery.Action.UPDATE, now)


def _still_paged(incident: Incident, now: datetime, held_back: str) -> list[Channel]:
    """The channels its page went to, to tell of a change; none if it never paged (it is
    paged when its mute ends), or if it is muted now (an event says so, after `held_back`)."""
    if muted_only(incident):
        return []
    muted = muting.why_muted(muting.subject_of(incident), now)
    if muted:
        event(incident, now, IncidentEvent.Kind.MUTED, f"{held_back}: {muted}.")
        return []
    return paged_channels(incident)


def resolved(incident: Incident, now: datetime) -> str:
    """The incident resolved: tell every channel that may have its page, and stop the pages
    still to be sent (a page must not ring for a problem that is over). Returns what was done,
    for the resolve's history line."""
    if muted_only(incident) or not incident.deliveries.filter(action__in=PAGES).exists():
        return "It was never paged, so no channel has anything to resolve."
    cancelled: list[Channel] = []
    told: list[Channel] = []
    for channel in paged_channels(incident):
        (told if _settle(incident, channel, now) else cancelled).append(channel)
    deliver_after_commit(*_write(incident, told, Delivery.Action.RESOLVE, now))
    if not cancelled:
        return ""  # each channel that had its page gets the resolve (see its deliveries)
    return f"Its page never reached {_names(cancelled)} and is cancelled there: nothing is sent."


def page_unmuted(candidates: list[Incident], now: datetime) -> None:
    """Page the open incidents that opened muted (read with ``with_never_paged``), once their
    silence (or maintenance) is over and the problem still holds. One already clearing (its
    count below the resolve threshold) is not paged: it resolves unpaged, unless it breaches
    again first."""
    candidates = [
        i for i in candidates if getattr(i, "never_paged", False) and i.clear_since is None
    ]
    if not candidates:
        return
    mutes = muting.Mutes.load(now)
    for candidate in candidates:
        if mutes.why(muting.subject_of(candidate)):
            continue
        with transaction.atomic():
            incident = (
                Incident.objects.select_for_update(of=("self",))
                .select_related("policy", "team")
                .filter(pk=candidate.pk, status=IncidentStatus.OPEN, clear_since=None)
                .first()
            )
            if incident is None:
                continue  # resolved or clearing meanwhile
            was = muted_only(incident)
            if not was:
                continue  # paged meanwhile
            channels = paged_channels(incident, muted=True) or routing.channels_for(
                incident.team, incident.key_alias or None, incident.policy.kind
            )
            incident.last_paged_at = now
            incident.save(update_fields=["last_paged_at"])
            event(
                incident,
                now,
                IncidentEvent.Kind.UNMUTED,
                f"No longer muted ({was}) and still open: paging {_names(channels)} now.",
            )
            _page(incident, channels, Delivery.Action.TRIGGER, now)


def hold_back_muted(now: datetime) -> int:
    """A silence or maintenance mode just began (or changed): the pages queued and not tried
    yet of the incidents it mutes are not sent. An incident with nothing paged yet is then
    paged when the mute ends, if still open (``page_unmuted``); one that had paged keeps its
    resolve. A page already tried is left alone: it may have reached its channel, and holding
    it back would leave that alert with no resolve. Returns how many were held back."""
    with transaction.atomic():
        waiting = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Delivery.Status.PENDING, attempts=0, action__in=PAGES)
            .select_related("incident__policy", "incident__team")
        )
        if not waiting:
            return 0
        mutes = muting.Mutes.load(now)
        held = 0
        told: set[int] = set()
        for delivery in waiting:
            why = mutes.why(muting.subject_of(delivery.incident))
            if not why:
                continue
            delivery.status = Delivery.Status.MUTED
            delivery.finished_at = now
            delivery.next_attempt_at = None
            delivery.last_error = f"held back, muted: {why}"[:500]
            delivery.save(update_fields=["status", "finished_at", "next_attempt_at", "last_error"])
            held += 1
            if delivery.incident_id not in told:
                told.add(delivery.incident_id)
                event(delivery.incident, now, IncidentEvent.Kind.MUTED, f"Not paged: {why}.")
        return held


# What the deliveries say.


def muted_only(incident: Incident) -> str:
    """Why the incident has not paged anyone: every page of it was muted. Empty when one was
    not (or it has none)."""
    statuses = list(
        incident.deliveries.filter(action__in=PAGES)
        .order_by("-pk")
        .values_list("status", "last_error")
    )
    if statuses and all(status == Delivery.Status.MUTED for status, _ in statuses):
        return statuses[0][1] or "muted"
    return ""


def _never_paged() -> Q:
    pages = Delivery.objects.filter(incident=OuterRef("pk"), action__in=PAGES)
    return Q(Exists(pages)) & ~Q(Exists(pages.exclude(status=Delivery.Status.MUTED)))


def never_paged(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """The incidents whose pages were all muted."""
    return incidents.filter(_never_paged())


def with_never_paged(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """The incidents, each with ``never_paged``: whether its pages were all muted (one query
    for the lot, with the incidents)."""
    return incidents.annotate(never_paged=ExpressionWrapper(_never_paged(), BooleanField()))


def paged_channels(incident: Incident, muted: bool = False) -> list[Channel]:
    """The channels the incident's pages went to (or, `muted`, would have), in order."""
    rows = incident.deliveries.filter(action__in=PAGES, channel__isnull=False)
    if muted:
        rows = rows.filter(status=Delivery.Status.MUTED)
    else:
        rows = rows.exclude(status=Delivery.Status.MUTED)
    ids = list(dict.fromkeys(rows.order_by("pk").values_list("channel_id", flat=True)))
    found = Channel.objects.in_bulk(ids)
    return [found[i] for i in ids if i in found]


# Writing rows.


def _page(incident: Incident, channels: list[Channel], action: str, now: datetime) -> None:
    if not channels:
        Delivery.objects.create(
            incident=incident,
            action=action,
            status=Delivery.Status.NO_ROUTE,
            created_at=now,
            finished_at=now,
        )
        return
    deliver_after_commit(*_write(incident, channels, action, now))


def _write(incident: Incident, channels: list[Channel], action: str, now: datetime) -> list[int]:
    """One outbox row per channel; returns the ids of those to send."""
    to_send = []
    for channel in channels:
        if channel.disabled:
            Delivery.objects.create(
                incident=incident,
                channel=channel,
                action=action,
                status=Delivery.Status.SKIPPED,
                created_at=now,
                finished_at=now,
                last_error=f"not sent: the channel is disabled ({channel.disabled_reason})"[:500],
            )
            continue
        delivery = Delivery.objects.create(
            incident=incident, channel=channel, action=action, created_at=now, next_attempt_at=now
        )
        to_send.append(delivery.pk)
    return to_send


def _mute(incident: Incident, channels: list[Channel], now: datetime, why: str) -> None:
    targets: list[Channel | None] = [*channels] or [None]
    for channel in targets:
        Delivery.objects.create(
            incident=incident,
            channel=channel,
            action=Delivery.Action.TRIGGER,
            status=Delivery.Status.MUTED,
            created_at=now,
            finished_at=now,
            last_error=why[:500],
        )


def _settle(incident: Incident, channel: Channel, now: datetime) -> bool:
    """Stop the pages still to be sent to this channel for a resolved incident. One that
    certainly never reached it is cancelled; one that may have is not retried, and the
    resolve follows it. A call in flight finishes, and the resolve waits for it. Whether the
    channel may have the page at all (a resolve is due)."""
    pages = (
        incident.deliveries.select_for_update()
        .filter(action__in=PAGES, channel=channel)
        .exclude(status=Delivery.Status.MUTED)
    )
    reached = False
    for page in pages:
        may = trigger_may_have_reached(page)
        reached = reached or may
        if page.status != Delivery.Status.PENDING or in_flight(page, now):
            continue
        page.status = Delivery.Status.SKIPPED
        page.finished_at = now
        page.next_attempt_at = None
        page.last_error = (
            "not retried: the incident resolved; the channel may have it, so its resolve follows"
            if may
            else "cancelled: the incident resolved before the channel got it; nothing is sent"
        )
        page.save(update_fields=["status", "finished_at", "next_attempt_at", "last_error"])
    return reached


def _names(channels: list[Channel]) -> str:
    if not channels:
        return "nowhere: no route matches"
    return ", ".join(channel.name for channel in channels)


def event(incident: Incident, now: datetime, kind: str, message: str, user: Any = None) -> None:
    IncidentEvent.objects.create(
        incident=incident, at=now, kind=kind, message=message[:1000], user=user
    )
    # The one log line per transition: with the deliveries', the log tells the story.
    logger.info(
        "incident %s of policy %s (%s), group %s: %s",
        incident.pk,
        incident.policy_id,
        incident.policy.name,
        incident.group_key or "everything",
        message,
    )
