"""Whether an incident's page reached anybody, told from its deliveries, not assumed.

What a person needs at 3 a.m. is what happened to each channel's page: muted (by what),
queued, retrying (since when, with what error), accepted (when), refused, or given up on. The
incident's state is its worst channel's, so that "paged" is said only when every channel
took it; the detail names each channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.utils.html import format_html
from django.utils.safestring import SafeString

from alerting_console.moments import shown
from policies.models import Delivery, Incident

TONE_ORDER = {"bad": 0, "pending": 1, "muted": 2, "ok": 3}


@dataclass(frozen=True)
class Page:
    """The facts of one channel's latest page of an incident."""

    channel: str  # its name; "" for "no route"
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


def channel_state(page: Page) -> PageState:
    status = Delivery.Status(page.status)
    if status == Delivery.Status.MUTED:
        return PageState("silenced", "muted", f"Not paged: {page.last_error or 'muted'}.")
    if status == Delivery.Status.NO_ROUTE:
        return PageState("no route", "bad", "Nobody was paged: no route matches this incident.")
    since = shown(page.created_at)
    if status == Delivery.Status.PENDING and page.attempts == 0:
        return PageState("queued", "pending", f"Waiting to be sent since {since}.")
    if status == Delivery.Status.PENDING:
        return PageState(
            "retrying",
            "bad",
            f"Not delivered yet: failing since {since}, {page.attempts} attempts; last error: "
            f"{page.last_error or 'none recorded'}.",
        )
    finished = shown(page.finished_at) if page.finished_at else "?"
    if status == Delivery.Status.DELIVERED:
        return PageState("paged", "ok", f"Accepted at {finished}.")
    if status == Delivery.Status.REFUSED:
        return PageState("refused", "bad", f"Refused at {finished}: {page.last_error}")
    if status == Delivery.Status.GAVE_UP:
        return PageState(
            "gave up", "bad", f"Never delivered; gave up at {finished}: {page.last_error}"
        )
    return PageState("not sent", "muted", page.last_error or "Not sent.")  # skipped


def page_state(pages: Iterable[Page]) -> PageState:
    """The incident's state from each channel's latest page."""
    states = [(page, channel_state(page)) for page in pages]
    if not states:
        return PageState("no route", "bad", "Nobody was paged: no route matches this incident.")
    if len(states) == 1:
        page, state = states[0]
        if not page.channel:
            return state
        return PageState(state.word, state.tone, f"{page.channel}: {state.detail}")
    worst = min((state for _, state in states), key=lambda s: TONE_ORDER[s.tone])
    word = worst.word
    if worst.tone != "ok":
        same = sum(1 for _, state in states if state.word == worst.word)
        word = f"{worst.word} ({same} of {len(states)})"
    detail = " ".join(f"{page.channel}: {state.detail}" for page, state in states)
    return PageState(word, worst.tone, detail)


def latest_pages(deliveries: Iterable[Delivery]) -> list[Page]:
    """Each channel's latest page (trigger or renotify), in the order they were first paged."""
    latest: dict[int | None, Delivery] = {}
    for delivery in deliveries:
        if delivery.action in Delivery.PAGES:
            latest[delivery.channel_id] = delivery  # ordered by pk: the last one wins
    return [
        Page(
            d.channel.name if d.channel else "",
            d.status,
            d.attempts,
            d.created_at,
            d.finished_at,
            d.last_error,
        )
        for d in latest.values()
    ]


PAGES_ATTR = "page_deliveries"


def with_pages(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """The incidents with their pages, in one more query for the whole list."""
    pages = (
        Delivery.objects.filter(action__in=Delivery.PAGES).select_related("channel").order_by("pk")
    )
    return incidents.prefetch_related(Prefetch("deliveries", queryset=pages, to_attr=PAGES_ATTR))


def state_of(incident: Incident) -> PageState:
    """The page state of an incident read with ``with_pages`` (or, if not, asked now)."""
    deliveries = getattr(incident, PAGES_ATTR, None)
    if deliveries is None:
        deliveries = list(
            incident.deliveries.filter(action__in=Delivery.PAGES)
            .select_related("channel")
            .order_by("pk")
        )
    return page_state(latest_pages(deliveries))


def page_badge(state: PageState) -> SafeString:
    """The state as a coloured badge (styles in templates/admin/base_site.html)."""
    return format_html(
        '<span class="page-state page-{}" title="{}">{}</span>', state.tone, state.detail, state
    )
