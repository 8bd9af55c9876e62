"""Every admin page says so when the console itself stops working: no evaluation for three
intervals (beat or the worker down), or pages due a minute ago and not sent."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from policies.models import Delivery, Heartbeat, Route
from tests.engine_helpers import T0, add_requests, evaluate, later

pytestmark = pytest.mark.django_db

PAGES = [reverse("admin:index"), reverse("admin:policies_incident_changelist")]


@pytest.mark.parametrize("url", PAGES)
def test_no_banner_while_evaluation_runs_and_pages_go_out(ops, url):
    Heartbeat.objects.create(name="evaluate", at=timezone.now())

    html = ops.get(url).content.decode()

    assert 'id="evaluation-banner"' not in html
    assert 'id="outbox-banner"' not in html


@pytest.mark.parametrize("url", PAGES)
def test_stopped_evaluation_shows_a_banner_saying_since_when(ops, url):
    last = timezone.now() - timedelta(minutes=5)
    Heartbeat.objects.create(name="evaluate", at=last)

    html = ops.get(url).content.decode()

    assert 'id="evaluation-banner"' in html
    assert f"No policy has been evaluated since {last:%Y-%m-%d %H:%M:%S} UTC" in html
    assert "5\xa0minutes ago" in html


def test_a_console_that_never_evaluated_says_so(ops):
    assert "No policy has been evaluated yet" in ops.get(PAGES[0]).content.decode()


def test_pages_stuck_in_the_outbox_show_a_banner(ops, make_policy, make_routing_key, make_route):
    Heartbeat.objects.create(name="evaluate", at=timezone.now())
    make_route(make_routing_key(), scope=Route.Scope.DEFAULT)
    add_requests(5, at=later(-1))
    evaluate(make_policy(threshold=5, window_seconds=60), T0)  # queues its trigger
    due = timezone.now() - timedelta(minutes=3)
    Delivery.objects.update(next_attempt_at=due)

    html = ops.get(PAGES[0]).content.decode()

    assert 'id="outbox-banner"' in html
    assert f"1 page due since {due:%Y-%m-%d %H:%M:%S} UTC" in html
    assert "has not been sent" in html


def test_the_login_page_does_not_tell_strangers_about_the_engine(client):
    html = client.get(reverse("admin:login")).content.decode()

    assert 'id="evaluation-banner"' not in html
