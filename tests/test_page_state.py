"""What happened to an incident's page is told from its deliveries: "paged" only once
PagerDuty accepted the trigger, never merely because nothing muted it."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from policies import http
from policies.page_state import Trigger, page_state, state_of
from tests.engine_helpers import T0, drain, later

AT = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def trigger(status, attempts=1, error="", finished=None):
    return Trigger(status, attempts, AT, finished, error)


SINCE = "2026-11-30 03:00:00 UTC"
CASES = [
    (False, True, None, "silenced", "muted", "Not paged: silence #3 of team Search."),
    (True, False, None, "no route", "bad", "Nobody was paged: no route matches"),
    (True, True, trigger("pending", 0), "queued", "pending", f"Waiting to be sent since {SINCE}."),
    (
        True, True, trigger("pending", 4, "ConnectError: refused"), "retrying", "bad",
        f"Not delivered yet: failing since {SINCE}, 4 attempts; last error: ConnectError: refused.",
    ),
    (
        True, True, trigger("delivered", finished=AT + timedelta(seconds=2)), "paged", "ok",
        "Accepted by PagerDuty at 2026-11-30 03:00:02 UTC.",
    ),
    (
        True, True, trigger("refused", error="Invalid routing key", finished=AT), "refused", "bad",
        f"Refused by PagerDuty at {SINCE}: Invalid routing key",
    ),
    (
        True, True, trigger("gave_up", error="timeout", finished=AT), "gave up", "bad",
        "Never delivered; gave up at",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("paged", "routed", "facts", "word", "tone", "detail"), CASES)
def test_each_state_says_what_happened(paged, routed, facts, word, tone, detail):
    state = page_state(paged, "silence #3 of team Search", routed, facts)

    assert (state.word, state.tone) == (word, tone)
    assert state.detail.startswith(detail)


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
    assert "never: PagerDuty accepted no trigger for it" in page


@pytest.mark.django_db
def test_once_pagerduty_accepts_it_says_paged_and_when(ops, incident, pagerduty):
    drain(T0)

    page = ops.get(f"/admin/policies/incident/{incident.pk}/change/").content.decode()

    assert ">paged</span>" in page
    assert "Accepted by PagerDuty at" in page


@pytest.mark.django_db
def test_delivery_health_turns_red_on_transient_failures_too(incident, monkeypatch):
    """Found by review: four failed attempts left the key green, "last failure —", "failed,
    last 24 h 0": only refusals and give-ups counted."""
    from django.core.cache import cache

    from policies.dashboard import key_health

    monkeypatch.setattr(http, "transport", httpx.MockTransport(refuse_connections))
    for second in (0, 10, 30, 70):
        drain(later(second))
    cache.clear()

    [health] = key_health(later(70))

    assert (health.healthy, health.retrying, health.pending, health.failed_last_day) == (
        False,
        1,
        1,
        1,
    )
    assert health.last_failure_at is not None
    assert health.last_failure_at >= later(30)
