"""Whether an incident's page reached anybody, told from its deliveries, not assumed.

"Paged" used to mean "not muted": with PagerDuty unreachable the admin said paged, with a green
mark. What a person needs at 3 a.m. is what happened to the trigger: muted (by what), queued,
retrying (since when, with what error), accepted by PagerDuty (when), refused, or given up on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.html import format_html
from django.utils.safestring import SafeString

from alerting_console.moments import shown
from policies.models import Delivery, Incident

TRIGGER_FIELDS = ("status", "attempts", "created_at", "finished_at", "last_error")


@dataclass(frozen=True)
class Trigger:
    """The facts of an incident's latest trigger delivery."""

    status: str
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    last_error: str


@dataclass(frozen=True)
class PageState:
    word: str  # one or two words for a list: "paged", "retrying", "silenced", ...
    tone: str  # ok, pending, muted or bad: the badge's colour
    detail: str  # a sentence for the incident's page and the badge's title

    def __str__(self) -> str:
        return self.word


def page_state(paged: bool, muted_by: str, routed: bool, trigger: Trigger | None) -> PageState:
    if not paged:
        return PageState("silenced", "muted", f"Not paged: {muted_by or 'muted'}.")
    if not routed:
        return PageState("no route", "bad", "Nobody was paged: no route matches this incident.")
    if trigger is None or trigger.status == Delivery.Status.NO_ROUTE:
        return PageState("no route", "bad", "Nobody was paged: no route matches this incident.")
    status = Delivery.Status(trigger.status)
    since = shown(trigger.created_at)
    if status == Delivery.Status.PENDING and trigger.attempts == 0:
        return PageState("queued", "pending", f"Waiting to be sent since {since}.")
    if status == Delivery.Status.PENDING:
        return PageState(
            "retrying",
            "bad",
            f"Not delivered yet: failing since {since}, {trigger.attempts} attempts; last error: "
            f"{trigger.last_error or 'none recorded'}.",
        )
    finished = shown(trigger.finished_at) if trigger.finished_at else "?"
    if status == Delivery.Status.DELIVERED:
        return PageState("paged", "ok", f"Accepted by PagerDuty at {finished}.")
    if status == Delivery.Status.REFUSED:
        return PageState(
            "refused", "bad", f"Refused by PagerDuty at {finished}: {trigger.last_error}"
        )
    if status == Delivery.Status.GAVE_UP:
        return PageState(
            "gave up", "bad", f"Never delivered; gave up at {finished}: {trigger.last_error}"
        )
    return PageState("not sent", "muted", trigger.last_error or "Not sent.")  # skipped


def with_latest_trigger(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """Each incident with its latest trigger's facts, in the same query (one subquery per
    field, each an index lookup of its deliveries)."""
    latest = Delivery.objects.filter(
        incident=OuterRef("pk"), action=Delivery.Action.TRIGGER
    ).order_by("-pk")
    return incidents.annotate(
        **{f"trigger_{name}": Subquery(latest.values(name)[:1]) for name in TRIGGER_FIELDS}
    )


def state_of(incident: Incident) -> PageState:
    """The page state of an incident read with ``with_latest_trigger`` (or, if not, asked
    for its latest trigger now)."""
    if hasattr(incident, "trigger_status"):
        facts = [getattr(incident, f"trigger_{name}") for name in TRIGGER_FIELDS]
        trigger = Trigger(*facts) if facts[0] is not None else None
    else:
        row = (
            incident.deliveries.filter(action=Delivery.Action.TRIGGER)
            .order_by("-pk")
            .values_list(*TRIGGER_FIELDS)
            .first()
        )
        trigger = Trigger(*row) if row else None
    return page_state(
        incident.paged, incident.muted_by, incident.routing_key_id is not None, trigger
    )


def page_badge(state: PageState) -> SafeString:
    """The state as a coloured badge (styles in templates/admin/base_site.html)."""
    return format_html(
        '<span class="page-state page-{}" title="{}">{}</span>', state.tone, state.detail, state
    )
