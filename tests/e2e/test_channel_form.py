"""The channel form in a browser: it shows the settings of the kind chosen and calls the
credential by the kind's name, hiding it for kinds that have none (Chromium, driven by
Playwright, against Django's live test server)."""

import os

import pytest
from playwright.sync_api import expect

from policies.models import Channel
from tests.e2e.admin_browser import admin_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see test_browser.py

SETTINGS = {"slack": "channel", "webhook": "headers", "email": "to"}


@pytest.fixture
def page(live_server, admin_user):
    with admin_page(live_server.url, "/admin/policies/channel/add/") as logged_in:
        yield logged_in


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("pagerduty", "Integration key:"),
        ("slack", "Webhook URL or bot token:"),
        ("teams", "Workflows webhook URL:"),
        ("discord", "Webhook URL:"),
        ("webhook", "Webhook URL:"),
        ("email", None),
        ("inbox", None),
    ],
)
def test_only_the_chosen_kinds_rows_show_with_its_credentials_name(page, kind, label):
    page.select_option("#id_kind", kind)

    for owner, setting in SETTINGS.items():
        row = page.locator(f".field-setting_{setting}")
        expect(row).to_be_visible() if owner == kind else expect(row).to_be_hidden()
    if label is None:
        expect(page.locator(".field-secret")).to_be_hidden()
    else:
        expect(page.locator(".field-secret")).to_be_visible()
        expect(page.locator(".field-secret label")).to_have_text(label)
    expect(page.locator(".field-name")).to_be_visible()
    expect(page.locator(".field-team")).to_be_visible()


def test_the_credentials_help_is_the_kinds(page):
    page.select_option("#id_kind", "discord")

    help_text = page.locator("#id_secret_helptext")
    expect(help_text).to_contain_text("Integrations → Webhooks")
    expect(help_text).not_to_contain_text("PagerDuty")


def test_what_was_typed_for_another_kind_is_not_sent(page):
    page.fill("#id_name", "Ops mail")
    page.fill("#id_secret", "Kq7ZpW3nR8sT1vY5bX9cD2fG6hJ4mL0a")  # typed as PagerDuty
    page.select_option("#id_kind", "slack")
    page.fill("#id_setting_channel", "C0123ABCD")
    page.select_option("#id_kind", "email")
    page.fill("#id_setting_to", "ops@example.com")

    page.click("input[name=_save]")

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    channel = Channel.objects.get(name="Ops mail")
    assert (channel.kind, channel.secret, channel.settings) == (
        "email",
        "",
        {"to": "ops@example.com"},
    )


def test_a_change_page_keeps_its_kinds_own_words(page, live_server):
    channel = Channel.objects.create(
        name="Search on-call", kind="pagerduty", secret="Kq7ZpW3nR8sT1vY5bX9cD2fG6hJ4mL0a"
    )

    page.goto(f"{live_server.url}/admin/policies/channel/{channel.pk}/change/")

    expect(page.locator(".field-secret label")).to_have_text("New integration key:")
    expect(page.locator(".field-setting_channel")).to_have_count(0)
