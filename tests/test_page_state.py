"""What happened to an incident's page is told from its deliveries: "paged" only once every
channel accepted it, never merely because nothing muted it."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from policies import http
from policies.page_state import Page, channel_state, page_state, state_of
from tests.engine_helpers import T0, drain, later

AT = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def page(status, attempts=1, error="", finished=None, channel="Search on-call"):
    return Page(channel, status, attempts, AT, finished, error)


SINCE = "2026-11-30 03:00:00 UTC"
CASES = [
    (page("muted", 0, "silence #3 of team Search"), "silenced", "muted",
     "Not paged: silence #3 of team Search."),
    (page("no_route", 0, channel=""), "no route", "bad", "Nobody was paged: no route matches"),
    (page("pending", 0), "queued", "pending", f"Waiting to be sent since {SINCE}."),
    (
        page("pending", 4, "ConnectError: refused"), "retrying", "bad",
        f"Not delivered yet: failing since {SINCE}, 4 attempts; last error: ConnectError: refused.",
    ),
    (
        page("delivered", finished=AT + timedelta(seconds=2)), "paged", "ok",
        "Accepted at 2026-11-30 03:00:02 UTC.",
    ),
    (
        page("refused", error="Invalid routing key", finished=AT), "refused", "bad",
        f"Refused at {SINCE}: Invalid routing key",
    ),
    (page("gave_up", error="timeout", finished=AT), "gave up", "bad",
     "Never delivered; gave up at"),
    (page("skipped", error="not sent: the channel is disabled"), "not sent", "muted",
     "not sent: the channel is disabled"),
]  # fmt: skip


@pytest.mark.parametrize(("facts", "word", "tone", "detail"), CASES)
def test_each_state_says_what_happened(facts, word, tone, detail):
    state = channel_state(facts)

    assert (state.word, state.tone) == (word, tone)
    assert state.detail.startswith(detail)


def test_no_page_at_all_is_no_route():
    assert page_state([]).word == "no route"


def test_one_channel_names_it_in_the_detail():
    state = page_state([page("delivered", finished=AT)])
    assert (state.word, state.tone) == ("paged", "ok")
    assert state.detail == f"Search on-call: Accepted at {SINCE}."


def test_the_incident_is_as_bad_as_its_worst_channel_and_counts_it():
    state = page_state(
        [
            page("delivered", finished=AT),
            page("pending", 3, "HTTP 429", channel="#search"),
            page("delivered", finished=AT, channel="hooks"),
        ]
    )
    assert (state.word, state.tone) == ("retrying (1 of 3)", "bad")
    assert "#search: Not delivered yet" in state.detail
    assert f"hooks: Accepted at {SINCE}." in state.detail


def test_every_channel_paged_is_paged():
    state = page_state(
        [page("delivered", finished=AT), page("delivered", finished=AT, channel="b")]
    )
    assert (state.word, state.tone) == ("paged", "ok")


def refuse_connections(request):
    raise httpx.ConnectError("connection refused")


@pytest.mark.django_db
def test_with_pagerduty_unreachable_the_pages_say_retrying_not_paged(ops, incident, monkeypatch):
    """Found by review: four failed attempts, and the list, the page and the home page all
    said paged, with a green mark."""
    monkeypatch.setattr(http, "transport", httpx.MockTransport(refuse_connections))
    for second in (0, 10, 30, 70):
        drain(later(second))

    assert state_of(incident).word == "retrying"
    listing = ops.get("/admin/policies/incident/").content.decode()
    page = ops.get(f"/admin/policies/incident/{incident.pk}/change/").content.decode()
    home = ops.get("/admin/").content.decode()
    for html in (listing, page, home):
        assert 'class="page-state page-bad"' in html
        assert ">retrying</span>" in html
        assert "icon-yes.svg" not in html.split('id="key-health"')[0]
    assert "last error: ConnectError: connection refused" in page
    assert "never: no channel accepted a page of it" in page


@pytest.mark.django_db
def test_once_pagerduty_accepts_it_says_paged_and_when(ops, incident, pagerduty):
    drain(T0)

    page = ops.get(f"/admin/policies/incident/{incident.pk}/change/").content.decode()

    assert ">paged</span>" in page
    assert "Accepted at" in page


@pytest.mark.django_db
def test_delivery_health_turns_red_on_transient_failures_too(incident, monkeypatch):
    """Found by review: four failed attempts left the key green, "last failure —", "failed,
    last 24 h 0": only refusals and give-ups counted."""
    from django.core.cache import cache

    from policies.dashboard import channel_health

    monkeypatch.setattr(http, "transport", httpx.MockTransport(refuse_connections))
    for second in (0, 10, 30, 70):
        drain(later(second))
    cache.clear()

    [health] = channel_health(later(70))

    assert (health.healthy, health.retrying, health.pending, health.failed_last_day) == (
        False,
        1,
        1,
        1,
    )
    assert health.last_failure_at is not None
    assert health.last_failure_at >= later(30)
