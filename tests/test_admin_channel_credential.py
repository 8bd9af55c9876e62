"""A PagerDuty channel's integration key (what a routing key was) in the admin: validated by
its kind, written once, never shown whole afterwards."""

import logging

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.views.debug import SafeExceptionReporterFilter

from policies.models import Channel
from tests.admin_helpers import assert_error_on_field

pytestmark = pytest.mark.django_db

KEY = "Kq7ZpW3nR8sT1vY5bX9cD2fG6hJ4mL0a"
MASKED = "Kq7Z…mL0a"
NEW_KEY = "N3wK3yZ9x8W7v6U5t4S3r2Q1p0OnMl2B"

ADD_URL = reverse("admin:policies_channel_add")
LIST_URL = reverse("admin:policies_channel_changelist")


def change_url(key: Channel) -> str:
    return reverse("admin:policies_channel_change", args=[key.pk])


def assert_key_hidden(html: str, key: str = KEY) -> None:
    """Neither the whole key nor the part the mask hides is anywhere in the page."""
    assert key not in html
    assert key[4:-4] not in html


@pytest.fixture
def search_key(make_routing_key):
    return make_routing_key(name="Search on-call", secret=KEY)


def test_the_list_shows_the_masked_key_and_never_the_whole_one(ops, search_key):
    html = ops.get(LIST_URL).content.decode()

    assert MASKED in html
    assert "Search on-call" in html
    assert_key_hidden(html)


def test_it_never_renders_the_whole_routing_key_on_the_change_page(ops, search_key):
    response = ops.get(change_url(search_key))
    html = response.content.decode()

    assert response.status_code == 200
    assert MASKED in html
    assert_key_hidden(html)
    # The input for a new key is there, and empty, under the kind's word for it.
    assert '<input type="password" name="secret"' in html
    assert "New integration key" in html
    assert response.context["adminform"].form.initial.get("secret") is None


def test_searching_for_a_whole_key_finds_nothing(ops, search_key):
    # Otherwise the search box would confirm a guessed key.
    response = ops.get(LIST_URL, {"q": KEY})

    assert response.context["cl"].result_count == 0


def test_adding_a_routing_key_stores_it_and_shows_only_the_masked_key(ops):
    response = ops.post(
        ADD_URL,
        {"name": "Search on-call", "kind": "pagerduty", "secret": KEY, "description": ""},
        follow=True,
    )

    assert response.status_code == 200
    assert Channel.objects.get().secret == KEY
    html = response.content.decode()
    assert MASKED in html  # in the "was added successfully" message and the list
    assert_key_hidden(html)


def test_the_history_never_records_the_key(ops, search_key):
    ops.post(change_url(search_key), {"name": "Search", "secret": NEW_KEY})
    history = ops.get(reverse("admin:policies_channel_history", args=[search_key.pk]))

    html = history.content.decode()
    # The change history shows who changed which field, the key only masked.
    assert "Search on-call" in html
    assert "N3wK" in html
    assert search_key.masked_secret in html
    assert Channel.objects.get().masked_secret in html
    for entry in LogEntry.objects.all():
        assert_key_hidden(entry.object_repr + entry.change_message, NEW_KEY)
    assert_key_hidden(html, NEW_KEY)
    assert_key_hidden(html, KEY)
    for record in Channel.history.all():
        assert not hasattr(record, "secret")
        assert not hasattr(record, "signing_secret")


def test_the_delete_page_never_shows_the_key(ops, search_key):
    html = ops.get(reverse("admin:policies_channel_delete", args=[search_key.pk]))

    assert_key_hidden(html.content.decode())


@pytest.mark.parametrize(
    ("bad_key", "message"),
    [
        (KEY[:31], "A PagerDuty integration key is exactly 32 characters; this one has 31."),
        (KEY[:31] + "-", "A PagerDuty integration key has only letters and digits."),
    ],
)
def test_a_bad_key_is_refused_on_the_form_and_nothing_is_created(ops, bad_key, message):
    response = ops.post(ADD_URL, {"name": "Search on-call", "kind": "pagerduty", "secret": bad_key})

    assert_error_on_field(response, "secret", message)
    html = response.content.decode()
    # The refused value is not echoed back into the input either.
    assert bad_key not in html
    assert not Channel.objects.exists()


def test_a_key_is_required_when_adding(ops):
    response = ops.post(ADD_URL, {"name": "Search on-call", "kind": "pagerduty", "secret": ""})

    # The kind says what it needs (an empty key is one of the wrong length).
    assert_error_on_field(
        response, "secret", "A PagerDuty integration key is exactly 32 characters; this one has 0."
    )
    assert not Channel.objects.exists()


def test_surrounding_whitespace_of_a_pasted_key_is_ignored(ops):
    ops.post(ADD_URL, {"name": "Search on-call", "kind": "pagerduty", "secret": f"  {KEY}\n"})

    assert Channel.objects.get().secret == KEY


def test_leaving_the_key_empty_on_change_keeps_the_current_one(ops, search_key):
    response = ops.post(
        change_url(search_key),
        {"name": "Search (renamed)", "secret": "", "description": "notes"},
        follow=True,
    )

    assert response.status_code == 200
    search_key.refresh_from_db()
    assert search_key.name == "Search (renamed)"
    assert search_key.secret == KEY
    assert_key_hidden(response.content.decode())
    assert LogEntry.objects.get().get_change_message() == "Changed Name and Description."


def test_a_new_valid_key_on_change_replaces_the_old_one(ops, search_key):
    response = ops.post(
        change_url(search_key),
        {"name": "Search on-call", "secret": NEW_KEY, "description": ""},
        follow=True,
    )

    search_key.refresh_from_db()
    assert search_key.secret == NEW_KEY
    html = response.content.decode()
    assert "N3wK…Ml2B" in html
    assert_key_hidden(html, NEW_KEY)


def test_an_invalid_new_key_on_change_keeps_the_old_one_and_shows_the_error(ops, search_key):
    response = ops.post(change_url(search_key), {"name": "Search on-call", "secret": "too-short"})

    assert_error_on_field(
        response,
        "secret",
        "A PagerDuty integration key is exactly 32 characters; this one has 9.",
    )
    html = response.content.decode()
    assert MASKED in html
    assert_key_hidden(html)
    search_key.refresh_from_db()
    assert search_key.secret == KEY


def test_a_view_only_user_sees_only_the_masked_key(client, search_key):
    viewer = User.objects.create_user("viewer", password="a-long-test-password", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_channel"))
    client.force_login(viewer)

    response = client.get(change_url(search_key))

    assert response.status_code == 200
    html = response.content.decode()
    assert MASKED in html
    assert_key_hidden(html)


def test_error_reports_would_hide_the_posted_key(ops, search_key):
    response = ops.post(change_url(search_key), {"name": "x" * 101, "secret": NEW_KEY})

    posted = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert posted["secret"] == SafeExceptionReporterFilter.cleansed_substitute
    assert posted["name"] == "x" * 101


def test_the_key_is_never_logged(ops, search_key, caplog):
    with caplog.at_level(logging.DEBUG):
        ops.post(ADD_URL, {"name": "Checkout", "kind": "pagerduty", "secret": NEW_KEY}, follow=True)
        ops.post(change_url(search_key), {"name": "Search", "secret": KEY[:31]})
        ops.post(change_url(search_key), {"name": "Search", "secret": NEW_KEY})

    assert Channel.objects.filter(secret=NEW_KEY).count() == 2
    assert_key_hidden(caplog.text, NEW_KEY)
    assert KEY[:31] not in caplog.text
