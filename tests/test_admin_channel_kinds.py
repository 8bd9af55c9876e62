"""A channel of every kind made through the admin's form: its credential and settings stored
as the kind reads them, and every bad value refused on its own field with the kind's reason,
nothing saved and nothing typed echoed back."""

from typing import Any

import pytest
from django.urls import reverse

from policies import channels
from policies.models import Channel
from tests.admin_helpers import assert_error_on_field
from tests.fakes.discord import TOKEN as DISCORD_TOKEN
from tests.fakes.discord import WEBHOOK_ID as DISCORD_ID

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:policies_channel_add")
PAGERDUTY_KEY = "Kq7ZpW3nR8sT1vY5bX9cD2fG6hJ4mL0a"
SLACK_HOOK = "https://hooks.slack.com/services/T0001/B0001/FAKEfake1234secret5678XYZ"
SLACK_TOKEN = "xoxb-1111-2222-fakefakefake"
TEAMS_URL = (
    "https://default0a1b2c3d.4e.environment.api.powerplatform.com:443/powerautomate/"
    "automations/direct/workflows/9f8e/triggers/manual/paths/invoke?api-version=1&sig=SIGSECRET"
)
DISCORD_URL = f"https://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}"
WEBHOOK_URL = "https://hooks.example.com/in/T0KEN-in-the-path?sig=QUERYSECRET"


def add(client: Any, kind: str, secret: str = "", **settings: str) -> Any:
    data = {"name": f"A {kind} channel", "kind": kind, "secret": secret, "description": ""}
    data.update({f"setting_{name}": value for name, value in settings.items()})
    return client.post(ADD_URL, data)


@pytest.mark.parametrize(
    ("kind", "secret", "settings", "stored"),
    [
        ("pagerduty", PAGERDUTY_KEY, {}, {}),
        ("slack", SLACK_HOOK, {}, {}),
        ("slack", SLACK_TOKEN, {"channel": "C0123ABCD"}, {"channel": "C0123ABCD"}),
        ("teams", TEAMS_URL, {}, {}),
        ("discord", DISCORD_URL, {}, {}),
        (
            "webhook",
            WEBHOOK_URL,
            {"headers": "Authorization: Bearer h3aderT0ken"},
            {"headers": "Authorization: Bearer h3aderT0ken"},
        ),
        ("webhook", WEBHOOK_URL, {}, {}),
        (
            "email",
            "",
            {"to": "ops@example.com,\noncall@example.com"},
            {"to": "ops@example.com,\noncall@example.com"},
        ),
        ("inbox", "", {}, {}),
    ],
    ids=[
        "pagerduty",
        "slack-webhook",
        "slack-bot",
        "teams",
        "discord",
        "webhook-headers",
        "webhook",
        "email",
        "inbox",
    ],
)
def test_a_channel_of_each_kind_is_made_through_the_form(ops, kind, secret, settings, stored):
    response = add(ops, kind, secret, **settings)

    assert response.status_code == 302, response.context["adminform"].form.errors
    channel = Channel.objects.get()
    assert (channel.kind, channel.secret, channel.settings) == (kind, secret, stored)
    assert channel.secret_hint == channel.masked_secret
    # Settings of other kinds, posted empty by a browser showing every row, are not kept.
    assert set(channel.settings) <= {field.name for field in channels.kind_of(kind).fields}


def test_only_a_webhook_channel_gets_a_signing_secret(ops):
    add(ops, "webhook", WEBHOOK_URL)
    add(ops, "discord", DISCORD_URL)

    webhook, discord = Channel.objects.get(kind="webhook"), Channel.objects.get(kind="discord")
    assert webhook.signing_secret.startswith("whsec_")
    assert discord.signing_secret == ""


@pytest.mark.parametrize(
    ("kind", "secret", "settings", "field", "reason"),
    [
        ("slack", SLACK_TOKEN, {}, "setting_channel", "needs the ID of the channel"),
        ("slack", SLACK_TOKEN, {"channel": "#search"}, "setting_channel", "not its name"),
        ("slack", SLACK_HOOK, {"channel": "C0123ABCD"}, "setting_channel", "Leave empty"),
        ("slack", "https://example.com/services/X", {}, "secret", "not a Slack webhook URL"),
        (
            "teams",
            "https://contoso.webhook.office.com/webhookb2/1234@5678/IncomingWebhook/abcd/ef01",
            {},
            "secret",
            "Workflows",
        ),
        ("discord", "https://example.com/api/webhooks/1/x", {}, "secret", "Discord"),
        ("webhook", "http://hooks.example.com/in", {}, "secret", "Only https URLs"),
        ("webhook", "https://127.0.0.1/in", {}, "secret", "loopback"),
        ("webhook", WEBHOOK_URL, {"headers": "no colon here"}, "setting_headers", "line 1"),
        ("webhook", WEBHOOK_URL, {"headers": "webhook-id: x"}, "setting_headers", "webhook-id"),
        ("email", "", {"to": "ops@example"}, "setting_to", "Not an e-mail address: ops@"),
        ("email", "", {}, "setting_to", "at least one e-mail address"),
        ("inbox", "a-credential-123", {}, "secret", "takes no credential"),
        ("pagerduty", "", {}, "secret", "exactly 32 characters"),
    ],
)
def test_a_bad_setting_is_refused_on_its_field_with_the_kinds_reason(
    ops, kind, secret, settings, field, reason
):
    response = add(ops, kind, secret, **settings)

    expected = channels.kind_of(kind).validate(secret, settings)
    [(name, message)] = expected.items()
    assert field == (name if name == "secret" else f"setting_{name}")
    assert reason in message
    assert_error_on_field(response, field, message)
    assert not Channel.objects.exists()
    html = response.content.decode()
    if secret:
        assert secret not in html  # the credential is not rendered back, even refused
    if "headers" in settings:
        assert settings["headers"] not in html  # nor a secret setting


def test_a_form_with_errors_keeps_what_is_not_secret_and_not_the_credential(ops):
    response = add(ops, "slack", SLACK_TOKEN, channel="#search")

    form = response.context["adminform"].form
    assert form["setting_channel"].value() == "#search"
    assert 'value="#search"' in response.content.decode()
    assert SLACK_TOKEN not in response.content.decode()


def test_an_unknown_kind_is_refused_on_the_kind_field(ops):
    response = add(ops, "pager", PAGERDUTY_KEY)

    assert response.status_code == 200
    assert "kind" in response.context["adminform"].form.errors
    assert not Channel.objects.exists()


def test_without_javascript_every_kinds_rows_show_each_saying_its_kind(ops):
    html = ops.get(ADD_URL).content.decode()

    for kind in channels.KINDS.values():
        for setting in kind.fields:
            assert f'name="setting_{setting.name}"' in html
            assert f'data-kind="{kind.name}"' in html
            assert f"{kind.label}: {setting.help[:40]}" in html.replace("&#x27;", "'")
        if kind.credential_label:
            assert f'data-credential-label="{kind.credential_label}"' in html
            assert f"{kind.label}: {kind.credential_help[:40]}" in html
    assert 'data-credential-label=""' in html  # the inbox and e-mail: none
    assert "policies/channel_form.js" in html


def test_a_change_page_shows_only_its_kinds_settings_and_a_fixed_kind(ops, make_channel):
    channel = make_channel(
        name="Search", kind="slack", secret=SLACK_TOKEN, settings={"channel": "C0123ABCD"}
    )

    response = ops.get(reverse("admin:policies_channel_change", args=[channel.pk]))

    form = response.context["adminform"].form
    assert [name for name in form.fields if name.startswith("setting_")] == ["setting_channel"]
    assert form["setting_channel"].value() == "C0123ABCD"
    assert form.fields["kind"].disabled
    assert form.fields["secret"].label == "New webhook url or bot token"


def test_a_change_keeps_the_kind_and_revalidates_the_settings(ops, make_channel):
    channel = make_channel(
        name="Search", kind="slack", secret=SLACK_TOKEN, settings={"channel": "C0123ABCD"}
    )
    url = reverse("admin:policies_channel_change", args=[channel.pk])

    refused = ops.post(url, {"name": "Search", "kind": "pagerduty", "setting_channel": ""})
    moved = ops.post(url, {"name": "Search", "setting_channel": "C0999ZZZZ"})

    assert_error_on_field(
        refused,
        "setting_channel",
        "A bot token needs the ID of the channel to post in (like C0123ABCD).",
    )
    assert moved.status_code == 302
    channel.refresh_from_db()
    assert (channel.kind, channel.secret, channel.settings) == (
        "slack",
        SLACK_TOKEN,
        {"channel": "C0999ZZZZ"},
    )


def test_a_list_setting_from_apply_config_shows_one_per_line(ops, make_channel):
    channel = make_channel(
        name="Ops", kind="email", settings={"to": ["a@example.com", "b@example.com"]}
    )

    response = ops.get(reverse("admin:policies_channel_change", args=[channel.pk]))

    assert (
        response.context["adminform"].form["setting_to"].value() == "a@example.com\nb@example.com"
    )


@pytest.mark.parametrize("kind", ["email", "inbox"])
def test_a_kind_without_a_credential_shows_no_credential_rows(ops, make_channel, kind):
    settings = {"to": "ops@example.com"} if kind == "email" else {}
    channel = make_channel(name="Quiet", kind=kind, settings=settings)

    response = ops.get(reverse("admin:policies_channel_change", args=[channel.pk]))

    html = response.content.decode()
    assert 'name="secret"' not in html
    assert "Current credential" not in html
    if kind == "email":
        assert response.context["adminform"].form["setting_to"].value() == "ops@example.com"
    saved = ops.post(
        reverse("admin:policies_channel_change", args=[channel.pk]),
        {"name": "Quiet (renamed)", **({"setting_to": "ops@example.com"} if settings else {})},
    )
    assert saved.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.secret, channel.settings) == ("Quiet (renamed)", "", settings)
