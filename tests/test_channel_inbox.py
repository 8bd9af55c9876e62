"""The console inbox sends nothing: its kind hands back the message, and the worker (or the
test message) keeps it, with what every other kind would have been sent for it."""

import pytest

from policies.models import Channel, InboxMessage, Incident, Route
from policies.probe import send_probe
from tests.engine_helpers import T0, add_requests, drain, evaluate, later

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox():
    channel = Channel.objects.create(name="Try-out inbox", kind="inbox")
    Route.objects.create(scope=Route.Scope.DEFAULT).channels.add(channel)
    return channel


def test_an_incident_and_its_resolve_are_kept_in_the_inbox(inbox, make_policy):
    policy = make_policy(name="Upstream failures", threshold=5, resolve_hold_seconds=0)
    add_requests(5, at=later(-1))
    evaluate(policy, T0)
    drain(T0)
    evaluate(policy, later(120))  # the failures left the window
    drain(later(120))

    incident = Incident.objects.get()
    kept = list(InboxMessage.objects.order_by("pk"))
    assert [(m.event, m.incident, m.channel) for m in kept] == [
        ("trigger", incident, inbox),
        ("resolve", incident, inbox),
    ]
    assert kept[0].title.startswith("🔴 FIRING [")
    assert "Upstream failures" in kept[0].text
    assert {"PagerDuty", "Slack", "Microsoft Teams", "Discord", "E-mail"} <= set(kept[0].renderings)
    assert incident.deliveries.filter(status="delivered").count() == 2


def test_a_test_message_to_an_inbox_is_kept_too(inbox):
    result = send_probe(inbox, sent_by="ops")

    assert result.ok
    kept = InboxMessage.objects.order_by("pk")
    assert [(m.event, m.incident_id) for m in kept] == [("trigger", None), ("resolve", None)]
