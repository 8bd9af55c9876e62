"""What a person sees in a browser when the console itself is in trouble, and the routing
preview, at a laptop's and a phone's size (Chromium, driven by Playwright, against Django's
live test server: no beat and no worker run, as when they are down)."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from policies.models import Delivery, Route
from tests.e2e.admin_browser import admin_page
from tests.engine_helpers import T0, add_requests, evaluate, later

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see test_browser.py

SIZES = {"laptop": (1366, 900), "phone": (390, 844)}


@pytest.fixture(params=list(SIZES))
def page(request, live_server, admin_user):
    width, height = SIZES[request.param]
    with admin_page(live_server.url, "/admin/", width, height) as logged_in:
        logged_in.base_url = live_server.url  # type: ignore[attr-defined]
        yield logged_in


def test_with_beat_stopped_every_page_says_nothing_is_evaluated(page):
    for path in ("/admin/", "/admin/policies/incident/"):
        page.goto(page.base_url + path)

        banner = page.locator("#evaluation-banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("No policy has been evaluated yet")


def test_with_the_delivery_worker_stopped_the_stuck_pages_are_shown(
    page, make_policy, make_routing_key, make_route
):
    make_route(make_routing_key(name="Platform on-call"), scope=Route.Scope.DEFAULT)
    add_requests(5, at=later(-1))
    evaluate(make_policy(threshold=5), T0)  # its trigger waits in the outbox: no worker runs
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=2))

    page.goto(page.base_url + "/admin/")

    banner = page.locator("#outbox-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("1 page due since")
    expect(banner).to_contain_text("has not been sent")


def test_the_routing_preview_answers(page, make_team, make_routing_key, make_route):
    search = make_team(slug="search", name="Search")
    make_route(make_routing_key(name="Search on-call"), scope=Route.Scope.TEAM, team=search)

    page.goto(page.base_url + "/admin/policies/route/test/")
    page.select_option("#id_team", label="Search")
    page.click("#routing-question input[type=submit]")

    expect(page.locator("#routing-answer")).to_contain_text("Search on-call")
    expect(page.locator("#routing-answer")).to_contain_text("via the team's route")
