"""Sending a test message to a PagerDuty channel reports PagerDuty's real answer."""

import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from policies.models import Channel
from tests.e2e.pagerduty_server import PagerDutyServer

pytestmark = pytest.mark.django_db

KEY = "R0AB" + "e" * 24 + "XY12"


@pytest.fixture
def key(make_routing_key):
    return make_routing_key(name="Search on-call", secret=KEY)


def test_the_command_sends_a_trigger_then_its_resolve(key, pagerduty):
    out = StringIO()

    call_command("send_test_event", "Search on-call", stdout=out)

    (trigger_action, dedup), (resolve_action, resolve_dedup) = pagerduty.actions()
    assert (trigger_action, resolve_action) == ("trigger", "resolve")
    assert dedup == resolve_dedup
    assert pagerduty.events[0]["payload"]["severity"] == "info"
    assert "trigger: HTTP 202" in out.getvalue()
    assert "resolve: HTTP 202" in out.getvalue()
    assert KEY not in out.getvalue()
    key.refresh_from_db()
    assert key.last_success_at is not None


def test_the_command_reports_a_refusal_and_flags_the_key(key, pagerduty):
    pagerduty.script.append(400)

    with pytest.raises(CommandError, match="trigger: HTTP 400"):
        call_command("send_test_event", "Search on-call", stdout=StringIO())

    assert pagerduty.events == []
    assert Channel.objects.get().refused_at is not None


def test_the_command_names_an_unknown_channel():
    with pytest.raises(CommandError, match="no channel named 'nope'"):
        call_command("send_test_event", "nope")


def test_the_admin_action_reports_each_answer(admin_client, key, pagerduty):
    pagerduty.script.append(503)

    response = admin_client.post(
        "/admin/policies/channel/",
        {"action": "send_test_event", "_selected_action": [key.pk], "confirm": "yes"},
        follow=True,
    )

    page = response.content.decode()
    assert "Search on-call (R0AB…XY12): trigger: HTTP 503" in page
    assert KEY not in page
    assert pagerduty.events == []


def test_the_admin_action_gives_up_at_the_deadline_on_a_trickling_pagerduty(
    admin_client, key, settings
):
    """The test event is sent from a web thread: a PagerDuty answering a byte a second must not
    hold it past HTTP_TIMEOUT_SECONDS."""
    settings.HTTP_TIMEOUT_SECONDS = 2
    with PagerDutyServer() as server:
        settings.PAGERDUTY_EVENTS_URL = server.url
        server.trickle("headers", 1.0)
        started = time.monotonic()
        response = admin_client.post(
            "/admin/policies/channel/",
            {"action": "send_test_event", "_selected_action": [key.pk], "confirm": "yes"},
            follow=True,
        )
        took = time.monotonic() - started

    assert took < 2 + 3  # the deadline and a margin; the trickled answers take minutes
    assert "trigger: DeadlineExceeded: no complete answer within 2 s" in (response.content.decode())
