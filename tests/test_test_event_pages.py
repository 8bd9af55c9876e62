"""A test message pages someone: the console first says exactly what it will send and to which
channel (credential masked), sends only on a confirming POST, then shows the bodies sent next
to PagerDuty's answers, and lists the test among the channel's recent deliveries."""

import json
from html import unescape
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from policies.models import Delivery, Incident, Probe

pytestmark = pytest.mark.django_db

KEY = "R0AB" + "e" * 24 + "XY12"


@pytest.fixture
def key(make_routing_key):
    return make_routing_key(name="Search on-call", secret=KEY)


def confirm_url(key):
    return reverse("admin:policies_channel_test_event", args=[key.pk])


def test_the_button_opens_a_confirmation_that_says_what_would_be_sent_and_sends_nothing(
    ops, key, pagerduty
):
    change_page = ops.get(reverse("admin:policies_channel_change", args=[key.pk]))
    assert f'<a href="{confirm_url(key)}" class="historylink" id="send-test-event">' in (
        change_page.content.decode()
    )

    html = unescape(ops.get(confirm_url(key)).content.decode())

    assert pagerduty.events == []
    assert "Search on-call (PagerDuty, R0AB…XY12)" in html
    assert '"routing_key": "R0AB…XY12"' in html
    assert '"event_action": "trigger"' in html
    assert '"summary": "Test event from the Alerting Console for Search on-call (sent by ops)"' in (
        html
    )
    assert '"event_action": "resolve"' in html
    assert 'id="confirm-test-event"' in html
    assert KEY not in html
    assert not Probe.objects.exists()


def test_confirming_sends_it_and_shows_the_bodies_sent_next_to_pagerdutys_answers(
    ops, key, pagerduty
):
    response = ops.post(confirm_url(key))

    probe = Probe.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:policies_channel_test_event_result", args=[key.pk, probe.pk]
    )
    html = unescape(ops.get(response["Location"]).content.decode())
    trigger, resolve = pagerduty.events
    assert trigger["routing_key"] == KEY  # PagerDuty got the real key ...
    shown = {**trigger, "routing_key": "R0AB…XY12"}  # ... the page shows it masked
    assert json.dumps(shown, indent=2, ensure_ascii=False) in html
    assert f'"dedup_key": "{resolve["dedup_key"]}"' in html
    result = html[html.index('id="test-event-result"') :]
    assert result.index('"event_action": "trigger"') < result.index("HTTP 202")
    assert "PagerDuty accepted both." in html
    assert KEY not in html
    assert (probe.ok, probe.sent_by) == (True, "ops")


def test_a_refused_trigger_shows_pagerdutys_answer_and_that_no_resolve_went(ops, key, pagerduty):
    pagerduty.script.append(400)

    html = unescape(ops.get(ops.post(confirm_url(key))["Location"]).content.decode())

    assert "HTTP 400" in html
    assert "No resolve was sent" in html
    assert '"event_action": "resolve"' not in html
    assert Probe.objects.get().ok is False


def test_the_test_is_listed_in_the_keys_recent_deliveries_with_the_incidents(
    ops, key, pagerduty, make_policy
):
    now = timezone.now()
    incident = Incident.objects.create(
        policy=make_policy(), dedup_key="d1", summary="s", severity="error",
        started_at=now, detected_at=now, trigger_count=1, peak_count=1, last_count=1,
        last_paged_at=now,
    )  # fmt: skip
    Delivery.objects.create(
        incident=incident, channel=key, action="trigger", created_at=now, status="delivered",
        finished_at=now,
    )  # fmt: skip
    ops.post(confirm_url(key))
    probe = Probe.objects.get()

    html = unescape(
        ops.get(reverse("admin:policies_channel_change", args=[key.pk])).content.decode()
    )

    listed = html[html.index("Recent deliveries") :]
    result = reverse("admin:policies_channel_test_event_result", args=[key.pk, probe.pk])
    assert f'<a href="{result}">' in listed
    assert "Test message by ops: accepted (HTTP 202" in listed
    assert listed.index(result) < listed.index("Trigger: Delivered")  # newest first


def test_the_list_action_asks_first_then_sends_on_confirmation(ops, key, pagerduty):
    changelist = reverse("admin:policies_channel_changelist")
    asked = ops.post(changelist, {"action": "send_test_event", "_selected_action": [key.pk]})

    assert asked.status_code == 200
    assert pagerduty.events == []
    page = unescape(asked.content.decode())
    assert '"routing_key": "R0AB…XY12"' in page
    assert '<input type="hidden" name="confirm" value="yes">' in page

    sent = ops.post(
        changelist,
        {"action": "send_test_event", "_selected_action": [key.pk], "confirm": "yes"},
        follow=True,
    )

    assert [e["event_action"] for e in pagerduty.events] == ["trigger", "resolve"]
    probe = Probe.objects.get()
    result = reverse("admin:policies_channel_test_event_result", args=[key.pk, probe.pk])
    assert f'<a href="{result}">what was sent</a>' in sent.content.decode()


def test_the_command_records_its_test_too(key, pagerduty):
    call_command("send_test_event", "Search on-call", stdout=StringIO())

    probe = Probe.objects.get()
    assert probe.sent_by == "manage.py send_test_event"
    assert json.loads(probe.trigger_body)["routing_key"] == "R0AB…XY12"
    assert json.loads(probe.resolve_body)["routing_key"] == "R0AB…XY12"


def test_a_viewer_may_read_a_result_but_not_ask_to_send(ops, key, pagerduty, client):
    from django.contrib.auth.models import Group, User

    from policies.roles import VIEWERS

    ops.post(confirm_url(key))
    probe = Probe.objects.get()
    viewer = User.objects.create_user("vic", password="a-long-test-password", is_staff=True)
    viewer.groups.add(Group.objects.get(name=VIEWERS))
    client.force_login(viewer)

    result = reverse("admin:policies_channel_test_event_result", args=[key.pk, probe.pk])
    assert client.get(result).status_code == 200
    assert client.get(confirm_url(key)).status_code == 403
