"""The policy form in a browser: it shows the fields of the kind chosen, and starting from
LiteLLM's defaults keeps what was typed (Chromium, driven by Playwright, against Django's live
test server)."""

import os

import pytest
from django.contrib.contenttypes.models import ContentType
from playwright.sync_api import expect, sync_playwright

from policies.models import AlertPolicy
from tests.e2e.test_browser import CHROMIUM

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see test_browser.py


@pytest.fixture
def page(live_server, admin_user):
    # An earlier test's flush re-created the content types under new ids: the admin's log of
    # this test's changes must not use the ids this process cached before.
    ContentType.objects.clear_cache()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "password")
        page.click("input[type=submit]")
        page.goto(f"{live_server.url}/admin/policies/alertpolicy/add/")
        yield page
        browser.close()


def test_only_the_chosen_kinds_fields_show(page):
    expect(page.locator(".field-threshold")).to_be_visible()
    expect(page.locator(".field-duration_seconds")).to_be_hidden()  # failures: no T
    expect(page.locator(".field-failure_rate_percent")).to_be_hidden()

    page.check("input[name=kind][value=hung]")

    expect(page.locator(".field-duration_seconds")).to_be_visible()
    expect(page.locator(".field-count_client_errors")).to_be_hidden()  # hangs are not failures

    page.check("input[name=kind][value=failure_rate]")

    expect(page.locator(".field-failure_rate_percent")).to_be_visible()
    expect(page.locator(".field-min_requests")).to_be_visible()
    expect(page.locator(".field-duration_seconds")).to_be_hidden()


def test_starting_from_defaults_keeps_what_was_typed(page):
    page.fill("#id_name", "Search hangs")
    page.fill("#id_threshold", "7")

    page.click("a[data-policy-defaults=hung]")

    expect(page.locator("#id_name")).to_have_value("Search hangs")  # no reload
    expect(page.locator("#id_threshold")).to_have_value("7")  # typed: kept
    expect(page.locator("#id_window_seconds")).to_have_value("600")  # LiteLLM's default
    expect(page.locator("#id_duration_seconds")).to_have_value("60")
    expect(page.locator("input[name=kind][value=hung]")).to_be_checked()


def test_a_policy_saved_after_switching_kinds_keeps_no_field_of_the_other_kind(page):
    page.fill("#id_name", "Upstream failures")
    page.check("input[name=kind][value=slow]")  # T filled in with 300
    page.check("input[name=kind][value=failures]")  # T hidden: sent empty

    page.click("input[name=_save]")

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    policy = AlertPolicy.objects.get(name="Upstream failures")
    assert (policy.kind, policy.duration_seconds) == ("failures", None)
