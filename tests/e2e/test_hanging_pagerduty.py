"""A hanging PagerDuty must not stop evaluation: with every delivery worker stuck on a call
that never answers and pages waiting behind them, a new breach still opens its incident
within the normal detection latency. (It once took 223 s: evaluation ticks expired in the
queue they shared with the deliveries.)"""

import time

import pytest

from policies.models import AlertPolicy, Channel, Incident, Route
from tests.e2e.live import failures, post, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KEY = "R0AB" + "h" * 24 + "XY12"
INTERVAL = 1  # EVALUATION_INTERVAL_SECONDS of the e2e console
DETECTION_BOUND = 3 * INTERVAL + 10  # a few ticks, and a margin for a busy machine


def test_a_new_breach_is_detected_while_pagerduty_hangs(console):
    key = Channel.objects.create(name="Platform on-call", kind="pagerduty", secret=KEY)
    Route.objects.create(scope=Route.Scope.DEFAULT).channels.add(key)
    AlertPolicy.objects.create(
        name="Upstream failures", threshold=1, window_seconds=120, group_by="team"
    )
    pagerduty = console["pagerduty_server"]
    pagerduty.hang()

    post(console, [event for i in range(10) for event in failures(1, team=f"team-{i}")])
    wait_until(lambda: Incident.objects.count() == 10, 30, "ten incidents")
    # Ten pages wait, and every delivery worker process is stuck on one of them.
    wait_until(lambda: pagerduty.received >= 2, 30, "the deliveries to hang")
    time.sleep(2 * INTERVAL)

    post(console, failures(1, team="team-new"))
    posted = time.monotonic()
    wait_until(
        lambda: Incident.objects.filter(group_key="team-new").exists(),
        DETECTION_BOUND,
        f"the new breach to be detected within {DETECTION_BOUND} s",
    )

    assert time.monotonic() - posted < DETECTION_BOUND
    assert console["pagerduty"].events == []  # PagerDuty answered nothing all along

    # PagerDuty recovers: every page goes out, the calls cut off at their deadline retried.
    pagerduty.release()
    every_incident = set(Incident.objects.values_list("dedup_key", flat=True))
    wait_until(
        lambda: {key for _, key in console["pagerduty"].actions()} == every_incident,
        120,
        "every page to be delivered",
    )
