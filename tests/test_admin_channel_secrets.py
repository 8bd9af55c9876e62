"""A channel's secrets in the admin: the credential (a key, a webhook URL, a bot token), a
webhook's signing secret and its extra headers are written, never shown whole again: not on
its page, not on a form shown again with errors, not in the list, the search, the history or
the recent changes. The signing secret is shown once, when it is made."""

import re
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.views.debug import SafeExceptionReporterFilter

from policies.models import Channel
from policies.roles import VIEWERS

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:policies_channel_add")
LIST_URL = reverse("admin:policies_channel_changelist")
SLACK_HOOK = "https://hooks.slack.com/services/T0001/B0001/FAKEfake1234secret5678XYZ"
WEBHOOK_URL = "https://hooks.example.com/in/T0KEN-in-the-path?sig=QUERYSECRET"
NEW_WEBHOOK_URL = "https://hooks.example.com/in/N3W-T0KEN?sig=OTHERSECRET"
HEADERS = "Authorization: Bearer h3aderT0kenV4lue"
NEW_HEADERS = "X-Api-Key: n3wHeaderK3yValue"


def change_url(channel: Channel) -> str:
    return reverse("admin:policies_channel_change", args=[channel.pk])


def pages(client: Client, channel: Channel) -> dict[str, str]:
    """Every page that shows the channel, as people could open them."""
    history = channel.history.order_by("history_id").first()
    urls = {
        "change": change_url(channel),
        "list": LIST_URL,
        "search": f"{LIST_URL}?q={channel.name}",
        "history": reverse("admin:policies_channel_history", args=[channel.pk]),
        "old version": reverse(
            "admin:policies_channel_simple_history", args=[channel.pk, history.history_id]
        ),
        "recent changes": reverse("recent-changes"),
        "delete": reverse("admin:policies_channel_delete", args=[channel.pk]),
        "test message": reverse("admin:policies_channel_test_event", args=[channel.pk]),
        "home": reverse("admin:index"),
    }
    shown = {}
    for name, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, name
        shown[name] = unescape(response.content.decode())
    return shown


def assert_nowhere(shown: dict[str, str], *secrets: str) -> None:
    for name, html in shown.items():
        for secret in secrets:
            assert secret not in html, f"{name} shows {secret}"


@pytest.fixture
def webhook(ops: Any) -> Channel:
    response = ops.post(
        ADD_URL,
        {"name": "Receiver", "kind": "webhook", "secret": WEBHOOK_URL, "setting_headers": HEADERS},
    )
    assert response.status_code == 302
    ops.get(response["Location"])  # the page that shows the signing secret, once
    return Channel.objects.get()


def test_a_webhook_url_is_shown_masked_and_never_whole(ops, make_channel):
    channel = make_channel(name="#search", kind="slack", secret=SLACK_HOOK)

    shown = pages(ops, channel)

    assert "https://hooks.slack.com/…8XYZ" in shown["change"]
    assert "https://hooks.slack.com/…8XYZ" in shown["list"]
    assert_nowhere(shown, SLACK_HOOK, "FAKEfake1234secret", "T0001/B0001")


def test_searching_for_a_credential_finds_nothing(ops, make_channel):
    make_channel(name="#search", kind="slack", secret=SLACK_HOOK)

    for guess in (SLACK_HOOK, "FAKEfake1234secret5678XYZ", "hooks.slack.com"):
        assert ops.get(LIST_URL, {"q": guess}).context["cl"].result_count == 0


def test_a_refused_change_shows_neither_the_new_nor_the_old_credential(ops, make_channel):
    channel = make_channel(name="#search", kind="slack", secret=SLACK_HOOK)

    response = ops.post(
        change_url(channel),
        {"name": "#search", "secret": "https://example.com/services/WRONGsecretPART"},
    )

    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert "This is not a Slack webhook URL" in html
    assert "https://hooks.slack.com/…8XYZ" in html  # the saved one, masked
    assert_nowhere({"refused form": html}, SLACK_HOOK, "WRONGsecretPART", "example.com/…PART")
    channel.refresh_from_db()
    assert channel.secret == SLACK_HOOK


def test_the_signing_secret_is_shown_once_when_made_and_never_again(ops):
    response = ops.post(
        ADD_URL, {"name": "Receiver", "kind": "webhook", "secret": WEBHOOK_URL}, follow=True
    )

    signing_secret = Channel.objects.get().signing_secret
    assert signing_secret.startswith("whsec_")
    html = unescape(response.content.decode())
    assert f"The signing secret of “Receiver” is <code>{signing_secret}</code>. Copy it now" in html

    channel = Channel.objects.get()
    again = ops.post(change_url(channel), {"name": "Receiver (renamed)", "secret": ""}, follow=True)
    shown = pages(ops, channel)
    shown["after a change"] = unescape(again.content.decode())
    assert f"{signing_secret[:10]}… (shown whole once, when it was made)" in shown["change"]
    assert_nowhere(shown, signing_secret, signing_secret[10:])
    channel.refresh_from_db()
    assert channel.signing_secret == signing_secret  # a change does not make another


def test_the_extra_headers_are_written_and_never_shown_again(ops, webhook):
    assert webhook.settings == {"headers": HEADERS}

    shown = pages(ops, webhook)

    assert_nowhere(shown, HEADERS, "h3aderT0kenV4lue")
    change = shown["change"]
    assert "Set, and hidden: leave empty to keep it" in change
    assert re.search(r'<textarea name="setting_headers"[^>]*>\s*</textarea>', change)
    assert "Remove the extra headers" in change


def test_the_history_of_the_headers_says_they_changed_but_not_what_they_are(ops, webhook):
    ops.post(
        change_url(webhook), {"name": "Receiver", "secret": "", "setting_headers": NEW_HEADERS}
    )

    shown = pages(ops, webhook)

    assert "Secret settings changed:" in shown["history"]
    assert_nowhere(shown, HEADERS, NEW_HEADERS, "h3aderT0ken", "n3wHeaderK3y")


def test_empty_headers_keep_the_current_ones(ops, webhook):
    response = ops.post(
        change_url(webhook), {"name": "Receiver", "secret": "", "setting_headers": ""}
    )

    assert response.status_code == 302
    webhook.refresh_from_db()
    assert webhook.settings == {"headers": HEADERS}


def test_new_headers_replace_the_current_ones(ops, webhook):
    ops.post(
        change_url(webhook), {"name": "Receiver", "secret": "", "setting_headers": NEW_HEADERS}
    )

    webhook.refresh_from_db()
    assert webhook.settings == {"headers": NEW_HEADERS}


def test_the_remove_box_saves_the_channel_without_its_headers(ops, webhook):
    ops.post(
        change_url(webhook),
        {"name": "Receiver", "secret": "", "setting_headers": "", "clear_headers": "on"},
    )

    webhook.refresh_from_db()
    assert webhook.settings == {}
    assert "clear_headers" not in ops.get(change_url(webhook)).context["adminform"].form.fields


def test_refused_headers_are_not_shown_back(ops, webhook):
    response = ops.post(
        change_url(webhook),
        {"name": "Receiver", "secret": "", "setting_headers": "X-Token: s3cret\nnot a header"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "line 2: write Name: value." in html
    assert "s3cret" not in html
    webhook.refresh_from_db()
    assert webhook.settings == {"headers": HEADERS}


def test_refused_headers_on_a_new_channel_are_not_shown_back_either(ops):
    response = ops.post(
        ADD_URL,
        {
            "name": "Receiver",
            "kind": "webhook",
            "secret": WEBHOOK_URL,
            "setting_headers": "X-Token: s3cret\nnot a header",
        },
    )

    html = response.content.decode()
    assert "line 2: write Name: value." in html
    assert "s3cret" not in html
    assert "QUERYSECRET" not in html


def test_a_new_credential_keeps_the_headers_and_the_signing_secret(ops, webhook):
    signing_secret = webhook.signing_secret

    ops.post(change_url(webhook), {"name": "Receiver", "secret": NEW_WEBHOOK_URL})

    webhook.refresh_from_db()
    assert (webhook.secret, webhook.settings) == (NEW_WEBHOOK_URL, {"headers": HEADERS})
    assert webhook.signing_secret == signing_secret


def test_error_reports_would_hide_the_posted_credential_and_headers(ops, webhook):
    response = ops.post(
        change_url(webhook),
        {"name": "x" * 101, "secret": NEW_WEBHOOK_URL, "setting_headers": NEW_HEADERS},
    )

    posted = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    hidden = SafeExceptionReporterFilter.cleansed_substitute
    assert (posted["secret"], posted["setting_headers"]) == (hidden, hidden)


def test_a_viewer_sees_the_channel_without_any_secret_or_its_inputs(client, webhook):
    viewer = User.objects.create_user("vic", password="a-long-test-password", is_staff=True)
    viewer.groups.add(Group.objects.get(name=VIEWERS))
    client.force_login(viewer)

    response = client.get(change_url(webhook))

    html = unescape(response.content.decode())
    assert response.status_code == 200
    assert "https://hooks.example.com/…CRET" in html
    assert 'name="secret"' not in html
    assert 'name="setting_headers"' not in html
    assert_nowhere({"viewer's page": html}, WEBHOOK_URL, HEADERS, webhook.signing_secret)


def test_the_signing_secret_is_shown_on_the_next_page_only(ops):
    response = ops.post(ADD_URL, {"name": "Receiver", "kind": "webhook", "secret": WEBHOOK_URL})
    said = [str(m.message) for m in get_messages(response.wsgi_request)]
    assert any("whsec_" in message for message in said)

    shown = ops.get(response["Location"])
    later = ops.get(LIST_URL)

    assert "whsec_" in shown.content.decode()
    assert "whsec_" not in later.content.decode()  # the message was used up
