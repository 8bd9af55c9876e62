"""The policy form in a browser: it shows the fields of the kind chosen, and starting from
LiteLLM's defaults keeps what was typed (Chromium, driven by Playwright, against Django's live
test server)."""

import os
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from policies.models import AlertPolicy
from tests.e2e.admin_browser import admin_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see test_browser.py


@pytest.fixture
def page(live_server, admin_user):
    with admin_page(live_server.url, "/admin/policies/alertpolicy/add/") as logged_in:
        yield logged_in


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


def test_a_deployment_outage_policy_is_created_from_litellms_defaults(page):
    """The outage kind brings its levels, its grouping and its first level's severity: saved
    as LiteLLM's outage alert, with nothing typed but a name."""
    page.fill("#id_name", "Deployment outages")
    page.check("input[name=kind][value=deployment_outage]")

    expect(page.locator(".field-critical_threshold")).to_be_visible()
    expect(page.locator(".field-count_client_errors")).to_be_hidden()  # 400s never count
    expect(page.locator("#id_group_by")).to_have_value("deployment")
    page.click("input[name=_save]")

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    policy = AlertPolicy.objects.get(name="Deployment outages")
    assert (policy.kind, policy.threshold, policy.critical_threshold, policy.window_seconds) == (
        "deployment_outage", 5, 10, 60
    )  # fmt: skip
    assert (policy.group_by, policy.severity) == ("deployment", "warning")


@pytest.mark.parametrize("kind", ["latency_percentile", "first_token_percentile"])
def test_a_percentile_policy_is_created_with_its_two_levels(page, kind):
    """A percentile's critical level is a longer T, not a number of requests."""
    page.fill("#id_name", "p95 too slow")
    page.check(f"input[name=kind][value={kind}]")

    fields = ("duration_seconds", "critical_duration_seconds", "percentile", "min_requests")
    for field in fields:
        expect(page.locator(f".field-{field}")).to_be_visible()
    expect(page.locator(".field-critical_threshold")).to_be_hidden()
    expect(page.locator(".field-failure_rate_percent")).to_be_hidden()
    page.fill("#id_duration_seconds", "10")
    page.fill("#id_critical_duration_seconds", "30")
    page.select_option("#id_percentile", "95")
    page.select_option("#id_severity", "warning")  # the first level, below critical
    page.click("input[name=_save]")

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    policy = AlertPolicy.objects.get(name="p95 too slow")
    assert (policy.kind, policy.percentile, policy.severity) == (kind, 95, "warning")
    assert (policy.duration_seconds, policy.critical_duration_seconds) == (10.0, 30.0)


def test_a_budget_policy_is_created_with_its_budget_period_and_time_zone(page):
    """A budget shows its own fields and hides X (its first warning level stands there); the
    levels come as LiteLLM's, the time zone is typed."""
    page.fill("#id_name", "Team budgets")
    page.check("input[name=kind][value=budget]")

    expect(page.locator(".field-threshold")).to_be_hidden()
    expect(page.locator(".field-duration_seconds")).to_be_hidden()
    for field in ("budget", "budget_unit", "budget_period", "budget_warning_percents"):
        expect(page.locator(f".field-{field}")).to_be_visible()
    expect(page.locator("#id_budget_warning_percents")).to_have_value("85, 95")
    expect(page.locator("#id_group_by")).to_have_value("team")
    page.fill("#id_budget", "2500")
    page.fill("#id_budget_time_zone", "Europe/Paris")
    page.click("input[name=_save]")

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    policy = AlertPolicy.objects.get(name="Team budgets")
    assert (policy.kind, policy.budget, policy.budget_unit, policy.budget_period) == (
        "budget", Decimal("2500"), "usd", "month"
    )  # fmt: skip
    assert (policy.budget_time_zone, policy.threshold, policy.severity) == (
        "Europe/Paris", 85, "warning"
    )  # fmt: skip
    assert policy.describe() == "$2,500.00 a month (Europe/Paris), warning at 85, 95 %"


def test_a_budget_time_zone_that_is_not_one_is_refused_by_name(page):
    page.fill("#id_name", "Budgets")
    page.check("input[name=kind][value=budget]")
    page.fill("#id_budget", "100")
    page.fill("#id_budget_time_zone", "Paris")
    page.click("input[name=_save]")

    expect(page.locator(".field-budget_time_zone .errorlist")).to_contain_text(
        "'Paris' is not a time zone: use IANA's names, like Europe/Paris or UTC."
    )
    assert not AlertPolicy.objects.exists()
