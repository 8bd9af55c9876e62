"""The console as people use it: Debian's Chromium, driven by Playwright, against a live
console (granian, a Celery worker and beat, Postgres, Redis, a fake PagerDuty).

Screenshots of the home page, the incident list, an incident page and its first screen on a
phone are saved to $SCREENSHOTS_DIR when it is set (`make screenshots` sets it to docs/screenshots).
"""

import os
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group, User
from playwright.sync_api import Browser, Page, ViewportSize, expect

from policies.models import AlertPolicy, Channel, Delivery, Incident, Route, Silence, Team
from policies.roles import OPS_ADMINS, TEAM_EDITORS
from tests.e2e.admin_browser import chromium
from tests.e2e.live import failures, post, wait_until
from tests.engine_helpers import paged
from tests.roles import make_roles

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Playwright's sync API runs an event loop in this thread; the ORM calls between its steps
# are ordinary blocking calls made by the test, not from inside that loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "browser-test-password"


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def make_person(name: str, group: str) -> User:
    # A real PBKDF2 hash (few iterations: the console upgrades it at the first login), since
    # the console's processes do not know the tests' fast hasher.
    password = PBKDF2PasswordHasher().encode(PASSWORD, f"salt{name}", iterations=1000)
    user = User.objects.create(username=name, password=password, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def logged_in(browser: Browser, url: str, username: str) -> Page:
    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(username)
    return page


def screenshot(page: Page, name: str, full_page: bool = True) -> None:
    folder = os.environ.get("SCREENSHOTS_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)


@pytest.fixture
def roles():
    """The roles as their migrations made them: an earlier test's flush emptied the tables."""
    make_roles()


@pytest.fixture
def world(console, roles):
    """Two teams, each with its routing key and route, a policy per team, and the people."""
    search = Team.objects.create(name="Search", slug="search", gateway_team_id="team-search")
    billing = Team.objects.create(name="Billing", slug="billing", gateway_team_id="team-billing")
    for team, letter in ((search, "s"), (billing, "b")):
        key = Channel.objects.create(
            name=f"{team.name} on-call",
            kind="pagerduty",
            secret=f"R0AB{letter * 24}XY12",
            team=team,
        )
        Route.objects.create(scope=Route.Scope.TEAM, team=team).channels.add(key)
    policies = {
        team.slug: AlertPolicy.objects.create(
            name=f"{team.name} upstream failures",
            filter_team=team,
            threshold=3,
            window_seconds=30,
            group_by="team",
            resolve_hold_seconds=600,
        )
        for team in (search, billing)
    }
    make_person("olga", OPS_ADMINS)
    search.editors.add(make_person("erin", TEAM_EDITORS))
    return {"teams": (search, billing), "policies": policies}


def test_an_ops_admin_changes_a_threshold_and_the_history_records_it(browser, console, world):
    policy = world["policies"]["search"]
    page = logged_in(browser, console["url"], "olga")

    page.goto(f"{console['url']}/admin/policies/alertpolicy/{policy.pk}/change/")
    page.fill("#id_threshold", "12")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    page.goto(f"{console['url']}/admin/policies/alertpolicy/{policy.pk}/change/")
    expect(page.locator(".field-recent_changes")).to_contain_text("olga: Threshold (X): 3 → 12")
    page.click("a.historylink")
    expect(page.locator("#change-history")).to_contain_text("Threshold (X):")
    expect(page.locator("#change-history")).to_contain_text("olga")
    policy.refresh_from_db()
    assert policy.threshold == 12


def test_a_team_editor_cannot_edit_another_teams_policy(browser, console, world):
    own, other = world["policies"]["search"], world["policies"]["billing"]
    page = logged_in(browser, console["url"], "erin")

    page.goto(f"{console['url']}/admin/policies/alertpolicy/{other.pk}/change/")
    expect(page.locator("h1")).to_contain_text("View alert policy")
    expect(page.locator("#id_threshold")).to_have_count(0)
    expect(page.locator("input[name=_save]")).to_have_count(0)
    # Posting anyway, with the page's own CSRF token, is refused by the server.
    status = page.evaluate(
        """async () => {
            const token = document.querySelector('[name=csrfmiddlewaretoken]').value;
            const body = new URLSearchParams({csrfmiddlewaretoken: token, threshold: '1'});
            const answer = await fetch(location.href, {method: 'POST', body});
            return answer.status;
        }"""
    )
    assert status == 403
    other.refresh_from_db()
    assert other.threshold == 3

    page.goto(f"{console['url']}/admin/policies/alertpolicy/{own.pk}/change/")
    expect(page.locator("input[name=_save]")).to_have_count(1)


def test_an_incident_from_the_list_shows_its_timeline_and_a_silence_mutes_the_next(
    browser, console, world
):
    fake = console["pagerduty"]
    page = logged_in(browser, console["url"], "olga")
    post(console, failures(4, team="team-search"))
    wait_until(lambda: [a for a, _ in fake.actions()] == ["trigger"], 30, "the page")
    search_incident = Incident.objects.get()

    page.goto(f"{console['url']}/admin/policies/incident/")
    page.click(f"text={search_incident.summary}")
    timeline = page.locator("#incident-timeline")
    expect(timeline).to_contain_text("Opened")
    expect(timeline).to_contain_text("Trigger sent")
    expect(timeline).to_contain_text("HTTP 202")
    expect(page.locator(".field-dedup_key")).to_contain_text(search_incident.dedup_key)
    expect(page.locator(".field-routed_to")).to_contain_text("Search on-call")
    screenshot(page, "incident")

    # A silence for Billing, made in the form as a person would.
    page.goto(f"{console['url']}/admin/policies/silence/add/")
    page.check("input[name=scope][value=team]")
    page.select_option("#id_team", label="Billing")
    page.fill("#id_reason", "Billing's provider is down; we know")
    page.select_option("#id_duration", label="1 hour")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    post(console, failures(4, team="team-billing"))
    wait_until(lambda: Incident.objects.filter(team__slug="billing").exists(), 30, "the record")
    billing_incident = Incident.objects.get(team__slug="billing")
    assert paged(billing_incident) is False
    assert [a for a, _ in fake.actions()] == ["trigger"]  # still only Search's page

    page.goto(f"{console['url']}/admin/policies/incident/?muted=yes")
    page.click(f"text={billing_incident.summary}")
    expect(page.locator("#incident-timeline")).to_contain_text("Not paged: silence #")
    expect(page.locator("#incident-timeline")).to_contain_text("Billing's provider is down")

    page.goto(f"{console['url']}/admin/policies/incident/")
    expect(page.locator("#result_list")).to_contain_text(billing_incident.summary)
    screenshot(page, "incident-list")
    # The chart is cached for a few seconds: a person who logged in just before sees it late.
    wait_until(
        lambda: page.goto(f"{console['url']}/admin/") and page.locator("#team-chart").count(),
        40,
        "the chart",
    )
    expect(page.locator("#open-incidents")).to_contain_text(search_incident.summary)
    expect(page.locator("#team-chart")).to_contain_text("Billing")
    expect(page.locator("#key-health")).to_contain_text("Search on-call")
    screenshot(page, "home")


SCREENS: dict[str, ViewportSize] = {
    "laptop": {"width": 1366, "height": 900},
    "phone": {"width": 390, "height": 844},
}


def first_screen_fits(page: Page) -> None:
    """State, chart and actions are on the first screen, and nothing scrolls sideways."""
    height = page.evaluate("window.innerHeight")
    for part in ("#incident-state", "#incident-chart svg", "#incident-actions"):
        box = page.locator(part).bounding_box()
        assert box is not None, part
        assert box["y"] + box["height"] <= height, f"{part} is below the first screen"
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


def test_from_the_incident_page_on_a_phone_a_person_retries_silences_and_resolves(
    browser, console, world
):
    fake = console["pagerduty"]
    fake.script.append((503, {"Retry-After": "600"}))  # PagerDuty down: the trigger waits
    post(console, failures(4, team="team-search"))
    wait_until(
        lambda: Delivery.objects.filter(attempts=1, status=Delivery.Status.PENDING).exists(),
        30,
        "the trigger's first failed attempt",
    )
    incident = Incident.objects.get()
    url = f"{console['url']}/admin/policies/incident/{incident.pk}/change/"

    for name, size in SCREENS.items():
        page = logged_in(browser, console["url"], "olga")
        page.set_viewport_size(size)
        page.goto(url)
        expect(page.locator("#incident-state")).to_contain_text("Open")
        expect(page.locator("#incident-state")).to_contain_text("retrying")
        expect(page.locator("#incident-chart svg.count-chart")).to_be_visible()
        expect(page.locator("#incident-actions")).to_contain_text("Retry delivery now")
        if name == "phone":
            screenshot(page, "incident-phone", full_page=False)
        first_screen_fits(page)

    # Retry: PagerDuty is back; the page goes now, not in ten minutes.
    page.click("#retry-delivery")
    expect(page.locator(".messagelist")).to_contain_text("handed to a worker now")
    wait_until(lambda: [a for a, _ in fake.actions()] == ["trigger"], 30, "the retried page")
    # PagerDuty has it a moment before the worker records its answer.
    wait_until(
        lambda: Delivery.objects.filter(status=Delivery.Status.DELIVERED).exists(),
        30,
        "the answer recorded",
    )
    page.goto(url)
    expect(page.locator("#incident-state")).to_contain_text("paged")

    # Silence this: the form comes filled in for the incident's team.
    page.locator("a.silence-this").first.click()
    expect(page.locator("input[name=scope][value=team]")).to_be_checked()
    expect(page.locator("#id_team option:checked")).to_have_text("Search")
    page.select_option("#id_duration", label="1 hour")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    assert Silence.objects.get().team == world["teams"][0]

    # Resolve, after a confirmation; PagerDuty gets the resolve.
    page.goto(url)
    page.click("#resolve-incident")
    expect(page.locator("#content-main")).to_contain_text("Resolving it closes it now")
    assert Incident.objects.get().status == "open"
    page.click("#confirm-resolve")
    expect(page.locator(".messagelist")).to_contain_text("Incident resolved")
    expect(page.locator("#incident-state")).to_contain_text("by olga")
    wait_until(lambda: [a for a, _ in fake.actions()] == ["trigger", "resolve"], 30, "the resolve")
    # This one: were its failures still in the window, the next evaluation has opened another
    # (muted by the silence).
    resolved_by = Incident.objects.get(pk=incident.pk).resolved_by
    assert resolved_by is not None
    assert resolved_by.username == "olga"
