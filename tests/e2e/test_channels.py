"""End to end with real processes, two replicas' worth of workers and beats: one breach reaches
PagerDuty, Slack and a signed webhook once each; Slack answering 429 and the webhook being down
delay only themselves; the Slack message is edited to "Resolved" and PagerDuty and the webhook
get their resolve when it clears. The services are the contract-checking fakes of tests/fakes,
served over HTTP on 127.0.0.1."""

import ipaddress
import time

import pytest

from policies.channels.webhook import new_signing_secret
from policies.models import AlertPolicy, Channel, Delivery, Incident, Route, Team
from tests.e2e.fake_server import FakeServer
from tests.e2e.live import failures, post, wait_until
from tests.e2e.processes import MoreWorkers
from tests.fakes.slack import FakeSlack
from tests.fakes.webhook import FakeReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KEY = "R0AB" + "c" * 24 + "XY12"
TOKEN = "xoxb-1111-2222-e2etoken"
SLACK_CHANNEL = "C0SEARCH01"
SIGNING_SECRET = new_signing_secret()


@pytest.fixture
def slack():
    fake = FakeSlack()
    with FakeServer(fake.handle) as server:
        fake.api_base = f"{server.base}/api"
        fake.add_token(TOKEN)
        fake.add_channel(SLACK_CHANNEL)
        yield fake


@pytest.fixture
def receiver():
    fake = FakeReceiver(secret=SIGNING_SECRET)
    with FakeServer(fake.handle) as server:
        yield fake, server


@pytest.fixture
def console_env(slack):
    # The fakes listen on loopback, which the egress guard refuses unless told otherwise.
    return {
        "SLACK_API_URL": slack.api_base,
        "NOTIFY_ALLOW_HTTP": "true",
        "NOTIFY_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1/32",
    }


@pytest.fixture
def second_replica(console, tmp_path):
    workers = MoreWorkers(console["env"], tmp_path)
    try:
        workers.wait_until_ready()
        yield workers
    finally:
        workers.stop()


def slack_calls(slack, method):
    return [call for call in slack.calls if call[0].endswith(f"/{method}")]


def test_one_breach_reaches_three_channels_once_each_and_each_hears_the_resolve(
    console, second_replica, slack, receiver, settings
):
    # For this process's own validation of the channels, as the console's processes are set.
    settings.NOTIFY_ALLOW_HTTP = True
    settings.NOTIFY_ALLOWED_PRIVATE_NETWORKS = [ipaddress.ip_network("127.0.0.1/32")]
    hooks, hooks_server = receiver
    team = Team.objects.create(name="Search", slug="search", gateway_team_id="team-search")
    pager = Channel.objects.create(name="Search on-call", kind="pagerduty", secret=KEY)
    chat = Channel.objects.create(
        name="#search", kind="slack", secret=TOKEN, public_settings={"channel": SLACK_CHANNEL}
    )
    hook = Channel.objects.create(
        name="search hooks",
        kind="webhook",
        secret=f"{hooks_server.base}/alerts",
        signing_secret=SIGNING_SECRET,
    )
    for channel in (pager, chat, hook):
        channel.full_clean()
    Route.objects.create(scope=Route.Scope.TEAM, team=team).channels.set([pager, chat, hook])
    policy = AlertPolicy.objects.create(
        name="Upstream failures",
        threshold=5,
        # Long enough for the webhook's retry after its outage: an incident that clears before
        # a channel got its trigger sends that channel only the resolve (a page must not ring
        # for a problem that is over).
        window_seconds=45,
        group_by="team",
        resolve_hold_seconds=0,
    )
    pagerduty = console["pagerduty"]
    slack.script.extend([(429, {"Retry-After": "2"}, {"ok": False, "error": "ratelimited"})] * 2)
    hooks_server.down(True)  # the webhook's receiver is down

    post(console, failures(6))

    wait_until(lambda: [a for a, _ in pagerduty.actions()] == ["trigger"], 30, "PagerDuty")
    paged_at = time.monotonic()
    wait_until(lambda: hooks_server.refused_while_down >= 1, 30, "the webhook's first attempt")
    # PagerDuty was sent at its first attempt; the webhook, down, waits for its retry.
    incident = Incident.objects.get()
    deliveries = {d.channel_id: d for d in incident.deliveries.filter(action="trigger")}
    assert deliveries[pager.pk].attempts == 1
    assert deliveries[hook.pk].status == Delivery.Status.PENDING
    assert hooks.bodies == []

    hooks_server.down(False)  # back up: its trigger is sent at its next retry
    wait_until(lambda: len(slack.in_channel(SLACK_CHANNEL)) == 1, 30, "Slack, after its 429s")
    wait_until(lambda: hooks.types() == ["incident.triggered"], 60, "the webhook's trigger")
    assert time.monotonic() - paged_at > 1  # it really waited for its own retry

    # An ops admin shortens the window (rather than the test waiting out 45 seconds): the
    # failures leave it and every channel hears the resolve.
    policy.window_seconds = 5
    policy.save()
    wait_until(
        lambda: [a for a, _ in pagerduty.actions()] == ["trigger", "resolve"], 90, "the resolve"
    )
    wait_until(lambda: hooks.types() == ["incident.triggered", "incident.resolved"], 60, "hook")
    [message] = slack.in_channel(SLACK_CHANNEL)
    wait_until(lambda: len(message.edits) == 1 and len(message.replies) == 1, 30, "Slack edit")
    time.sleep(4)  # a duplicate from the second replica would arrive now

    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert pagerduty.actions() == [("trigger", incident.dedup_key), ("resolve", incident.dedup_key)]
    assert hooks.types() == ["incident.triggered", "incident.resolved"]
    assert [b["incident"]["dedup_key"] for b in hooks.bodies] == [incident.dedup_key] * 2
    assert len(slack.in_channel(SLACK_CHANNEL)) == 1
    assert "RESOLVED" in str(message.edits[0])
    assert len(slack_calls(slack, "chat.update")) == 1
    statuses = set(incident.deliveries.values_list("channel__name", "action", "status"))
    assert statuses == {
        (name, action, "delivered")
        for name in ("Search on-call", "#search", "search hooks")
        for action in ("trigger", "resolve")
    }
