"""An incident found by replaying the moments missed during a gap in evaluation keeps both
times: when the breach happened (the replayed moment) and when the console noticed it (the
real time of that evaluation), so a postmortem sees the real detection delay."""

from datetime import timedelta

import pytest

from policies import tasks
from policies.models import Incident, Route
from tests.engine_helpers import T0, add_requests, drain, later

pytestmark = pytest.mark.django_db


def test_a_replayed_incident_keeps_when_it_happened_and_when_it_was_noticed(
    make_policy, make_routing_key, make_route, pagerduty, time_machine, ops
):
    time_machine.move_to(T0, tick=False)
    make_route(make_routing_key(), scope=Route.Scope.DEFAULT)
    # A window long enough that the breach still holds when the console notices it: one over
    # by then is recorded but not paged.
    make_policy(name="Upstream failures", threshold=5, window_seconds=900)
    tasks.evaluate()  # beat's tick: evaluated up to T0
    add_requests(5, at=later(30))  # a burst, while beat is down

    back = later(600)
    time_machine.move_to(back, tick=False)
    tasks.evaluate()  # the first tick after the gap replays the moments missed
    drain(back)

    incident = Incident.objects.get()
    assert later(30) <= incident.detected_at <= later(60)  # the replayed moment
    assert incident.noticed_at == back  # the real time of the evaluation that found it
    [trigger] = [e for e in pagerduty.events if e["event_action"] == "trigger"]
    details = trigger["payload"]["custom_details"]
    assert details["detected_at"] == incident.detected_at.isoformat()
    assert details["noticed_at"] == back.isoformat()

    page = ops.get(f"/admin/policies/incident/{incident.pk}/change/").content.decode()
    assert "Noticed at" in page
    assert "Detected at" in page


def test_an_incident_found_on_time_is_noticed_when_it_is_detected(make_policy, time_machine):
    time_machine.move_to(T0, tick=False)
    make_policy(threshold=5, window_seconds=60)
    tasks.evaluate()
    add_requests(5, at=later(1))

    time_machine.move_to(later(2), tick=False)
    tasks.evaluate()

    incident = Incident.objects.get()
    assert incident.noticed_at - incident.detected_at < timedelta(seconds=1)
