"""Each channel goes its own way: one that is down, rate-limited, refusing or hanging delays no
other; a channel that refuses for good CHANNEL_DISABLE_AFTER times in a row is disabled and
said so; a channel's resolve never overtakes its own trigger. The services are the fakes of
tests/fakes behind the one outbound seam, told apart by host."""

import time

import httpx
import pytest
from django.db import connection

from policies import http
from policies.channels.webhook import new_signing_secret
from policies.engine import evaluate_all
from policies.models import Channel, Delivery, Incident, Route
from policies.recording import resolve
from policies.sending import _claim, attempt_deliveries, attempt_delivery
from tests.engine_helpers import T0, add_requests, drain, later
from tests.fake_pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.webhook import FakeReceiver

pytestmark = pytest.mark.django_db

SIGNING = new_signing_secret()
HOOK_URL = "https://hooks.example.com/alerts"


class Services:
    """The fakes, each on its own host, behind policies.http's transport."""

    def __init__(self) -> None:
        self.pagerduty = FakePagerDuty()
        self.slack = FakeSlack()
        self.hooks = FakeReceiver(secret=SIGNING)
        self.hooks_down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host == "events.pagerduty.com":
            return self.pagerduty.handle(request)
        if host == "hooks.example.com":
            if self.hooks_down:
                raise httpx.ConnectError("connection refused")
            return self.hooks.handle(request)
        return self.slack.handle(request)


@pytest.fixture
def services(monkeypatch, settings):
    settings.SLACK_API_URL = "https://slack.test/api"
    fake = Services()
    monkeypatch.setattr(http, "transport", httpx.MockTransport(fake.handle))
    return fake


@pytest.fixture
def channels(services, make_policy):
    slack_url = services.slack.add_webhook("C0SEARCH01", "secretpart0123456789abcd")
    made = [
        Channel.objects.create(name="Platform on-call", kind="pagerduty", secret="P" * 32),
        Channel.objects.create(name="#alerts", kind="slack", secret=slack_url),
        Channel.objects.create(
            name="hooks", kind="webhook", secret=HOOK_URL, signing_secret=SIGNING
        ),
    ]
    for channel in made:
        channel.full_clean()
    Route.objects.create(scope=Route.Scope.DEFAULT).channels.set(made)
    make_policy(name="Upstream failures", threshold=5, window_seconds=60, resolve_hold_seconds=0)
    return made


def open_incident():
    add_requests(5, at=later(-1))
    evaluate_all(T0)
    return Incident.objects.get()


def incidents_one_after_another(count):
    """`count` incidents, each opened, paged and resolved by hand 100 s after the last."""
    for n in range(count):
        add_requests(5, at=later(n * 100 - 1), model_group=f"m{n}")
        evaluate_all(later(n * 100))
        drain(later(n * 100))
        resolve(Incident.objects.get(status="open"), later(n * 100 + 1), "Resolved by hand.")


def statuses(incident, action="trigger"):
    return {
        d.channel.name: d.status
        for d in incident.deliveries.filter(action=action).select_related("channel")
    }


def test_a_webhook_down_for_ten_minutes_delays_only_itself(services, channels):
    services.hooks_down = True
    incident = open_incident()

    drain(T0)

    assert statuses(incident) == {
        "Platform on-call": "delivered",
        "#alerts": "delivered",
        "hooks": "pending",
    }
    for minute in range(1, 11):  # retried, with its backoff, for ten minutes
        drain(later(60 * minute))
    hook = incident.deliveries.get(channel__name="hooks")
    assert (hook.status, hook.attempts >= 4) == ("pending", True)
    assert services.hooks.bodies == []

    services.hooks_down = False
    drain(later(60 * 16))  # its next retry, within the 300 s backoff cap

    assert services.hooks.types() == ["incident.triggered"]
    assert [a for a, _ in services.pagerduty.actions()] == ["trigger"]
    assert len(services.slack.messages) == 1


def test_a_rate_limited_slack_waits_what_slack_asked_and_holds_up_nobody(services, channels):
    services.slack.script.append((429, {"Retry-After": "30"}, "rate_limited"))
    incident = open_incident()

    drain(T0)
    drain(later(20))  # before what Slack asked

    assert statuses(incident)["#alerts"] == "pending"
    assert statuses(incident)["Platform on-call"] == "delivered"
    assert len(services.hooks.bodies) == 1
    slack = incident.deliveries.get(channel__name="#alerts")
    assert slack.next_attempt_at >= later(30)

    drain(later(31))
    assert statuses(incident)["#alerts"] == "delivered"


def test_at_the_resolve_each_channel_is_settled_by_what_it_may_have_got(services, channels):
    """The webhook never got the page (connections refused): it is cancelled there and gets
    no resolve, while PagerDuty and Slack, which took it, get theirs."""
    services.hooks_down = True
    incident = open_incident()
    drain(T0)
    evaluate_all(later(120))  # the failures left the window: resolved
    assert Incident.objects.get().status == "resolved"

    drain(later(121))

    assert statuses(incident, "resolve") == {
        "Platform on-call": "delivered",
        "#alerts": "delivered",
    }
    hook = incident.deliveries.get(channel__name="hooks")
    assert hook.status == "skipped"
    assert hook.last_error.startswith("cancelled: the incident resolved before the channel got it")
    services.hooks_down = False
    drain(later(600))
    assert services.hooks.bodies == []


def test_a_channel_that_may_have_the_page_gets_the_resolve_after_it(services, channels):
    """A 503 may have been taken: the trigger stops retrying and the resolve follows it, on
    that channel only."""
    services.hooks.script.append(503)
    incident = open_incident()
    drain(T0)
    evaluate_all(later(120))

    drain(later(121))

    assert statuses(incident, "resolve")["hooks"] == "delivered"
    assert services.hooks.types() == ["incident.resolved"]
    assert incident.deliveries.get(channel__name="hooks", action="trigger").status == "skipped"


def claimed(delivery_id, at):
    """Whether a worker's claim at `at` takes the delivery for sending."""
    claims, _ = _claim([delivery_id], at)
    return [claim.delivery_id for claim in claims] == [delivery_id]


def test_a_channel_that_hangs_holds_at_most_its_share_of_workers(
    services, channels, settings, make_policy
):
    """CHANNEL_MAX_IN_FLIGHT slow calls to one channel at once: a third waits, others go on;
    calls that answer quickly never hold anything back."""
    settings.CHANNEL_MAX_IN_FLIGHT = 2
    for name in ("Second", "Third"):
        make_policy(name=name, threshold=5, window_seconds=60)
    add_requests(5, at=later(-1))
    evaluate_all(T0)
    assert Incident.objects.count() == 3
    hook_pages = list(Delivery.objects.filter(channel__name="hooks").order_by("pk"))
    # Two workers are in calls to the webhook (claimed, no answer yet).
    assert all(claimed(d.pk, T0) for d in hook_pages[:2])
    # Just started, they may well answer: the third is not held back for them.
    assert claimed(hook_pages[2].pk, later(1))
    Delivery.objects.filter(pk=hook_pages[2].pk).update(attempts=0, next_attempt_at=T0)

    third = attempt_delivery(hook_pages[2].pk, later(3))  # they hang: 3 s, no answer

    assert third.message.startswith("waiting: this channel's slow calls")
    assert third.retry_in is not None
    pager = Delivery.objects.filter(channel__name="Platform on-call").earliest("pk")
    assert attempt_delivery(pager.pk, later(3)).message.startswith("delivered")


def test_five_refusals_in_a_row_disable_the_channel_loudly(services, channels, settings, client):
    from django.contrib.auth.models import User

    settings.CHANNEL_DISABLE_AFTER = 5
    services.pagerduty.script.extend([400] * 5)
    incidents_one_after_another(5)

    pager = Channel.objects.get(name="Platform on-call")
    assert pager.refusals_in_a_row == 5
    assert pager.disabled_at is not None
    assert "5 refusals in a row" in pager.disabled_reason
    # Nothing more is sent to it: the next incident's page to it is recorded as not sent.
    add_requests(5, at=later(599))
    evaluate_all(later(600))
    drain(later(600))
    latest = Delivery.objects.filter(channel=pager).latest("pk")
    assert (latest.status, latest.last_error.startswith("not sent: the channel is disabled")) == (
        "skipped",
        True,
    )
    # PagerDuty took nothing: the five were refused, and the sixth never went out.
    assert services.pagerduty.events == []

    client.force_login(User.objects.create_superuser("ops", "", "pw-long-enough-1"))
    metrics = client.get("/metrics").content.decode()
    assert 'console_channels_disabled{kind="pagerduty"} 1.0' in metrics
    page = client.get(f"/admin/policies/channel/{pager.pk}/change/").content.decode()
    assert "DISABLED: this channel receives nothing" in page
    home = client.get("/admin/").content.decode()
    assert "DISABLED" in home


def test_a_success_between_refusals_starts_the_count_again(services, channels):
    services.pagerduty.script.extend([400, 400])
    incidents_one_after_another(3)

    pager = Channel.objects.get(name="Platform on-call")
    assert (pager.refusals_in_a_row, pager.disabled_at) == (0, None)


@pytest.mark.django_db(transaction=True)
def test_in_one_task_a_hanging_channel_holds_up_no_other_channels_answer(
    services, channels, monkeypatch
):
    """A transition's messages go out side by side, and each answer is recorded when it
    comes: while the webhook is still in its call, PagerDuty's and Slack's are recorded."""
    open_incident()
    ids = list(Delivery.objects.order_by("pk").values_list("pk", flat=True))
    seen_while_hanging: dict[str, str] = {}

    def handle(request):
        if request.url.host == "hooks.example.com":
            deadline = time.monotonic() + 5
            try:
                while time.monotonic() < deadline and len(seen_while_hanging) < 2:
                    time.sleep(0.05)
                    seen_while_hanging.update(
                        Delivery.objects.filter(status="delivered").values_list(
                            "channel__name", "status"
                        )
                    )
            finally:
                connection.close()  # this thread's own
        return services.handle(request)

    monkeypatch.setattr(http, "transport", httpx.MockTransport(handle))

    outcomes = attempt_deliveries(ids, T0)

    assert seen_while_hanging == {"Platform on-call": "delivered", "#alerts": "delivered"}
    assert [o.message.split(":")[0] for o in outcomes.values()] == ["delivered"] * 3
    assert services.hooks.types() == ["incident.triggered"]
