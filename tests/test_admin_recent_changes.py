""" "Recent changes": one page across every audited model, with who, what, from, to and when;
filterable by person and object type; paginated; booleans as on/off; no secret shown. And the
history pages lose their empty "change reason" column."""

from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ingest.models import IngestToken
from policies.engine import evaluate_all
from policies.models import AlertPolicy, Channel, Maintenance
from tests.admin_helpers import form_data_of

pytestmark = pytest.mark.django_db

URL = reverse("recent-changes")
NEW_KEY = "N3wK3yZ9x8W7v6U5t4S3r2Q1p0OnMl2B"


def page(client, **query):
    return unescape(client.get(URL, query).content.decode())


def edit_policy(client, policy, **changes):
    url = reverse("admin:policies_alertpolicy_change", args=[policy.pk])
    client.post(url, form_data_of(client.get(url), **changes))


def test_changes_to_every_audited_model_are_on_one_page_with_who_what_from_and_to(
    ops, make_policy, make_routing_key, make_token
):
    policy = make_policy(name="Search failures", threshold=5)
    edit_policy(ops, policy, threshold=12)
    key = make_routing_key(name="Search on-call")
    ops.post(
        reverse("admin:policies_channel_change", args=[key.pk]),
        {"name": "Search on-call", "secret": NEW_KEY, "team": "", "description": ""},
    )
    token, row = make_token(name="litellm-prod")
    ops.post(
        reverse("admin:ingest_ingesttoken_changelist"),
        {"action": "disable_tokens", "_selected_action": [row.pk]},
    )

    html = page(ops)

    table = html[html.index('id="recent-changes"') :]
    assert "Alert policy: " in table
    assert "Search failures" in table
    assert "<strong>Threshold (X):</strong> 5 → 12" in table
    assert (
        f"<strong>Credential:</strong> {key.masked_secret} → {Channel.objects.get().masked_secret}"
        in table
    )
    assert "<strong>Enabled:</strong> on → off" in table  # not True → False
    assert table.index("litellm-prod") < table.index("Search on-call") < table.index("5 → 12")
    assert "<td>ops</td>" in table
    for secret in (key.secret, NEW_KEY, token, row.token_hash):
        assert secret not in html
    assert f'href="{reverse("admin:policies_alertpolicy_history", args=[policy.pk])}"' in html


def test_it_filters_by_person_and_by_object_type(ops, make_policy, make_team):
    other = User.objects.create_superuser("dana", "", "a-long-test-password")
    dana = Client()
    dana.force_login(other)
    policy = make_policy(name="Search failures", threshold=5)
    edit_policy(ops, policy, threshold=12)
    edit_policy(dana, policy, threshold=20)
    team = make_team(name="Billing")
    team._history_user = other
    team.description = "payments"
    team.save()

    by_dana = page(ops, user=other.pk)
    policies_only = page(ops, type="policies.alertpolicy")

    assert "12 → 20" in by_dana
    assert "Billing" in by_dana
    assert "5 → 12" not in by_dana
    assert "5 → 12" in policies_only
    assert "12 → 20" in policies_only
    assert "Billing" not in policies_only[policies_only.index('id="recent-changes"') :]


def test_it_is_paginated_newest_first(ops, make_policy):
    policy = make_policy(name="Busy", threshold=1)
    for threshold in range(2, 32):  # 30 changes, and its creation
        policy.threshold = threshold
        policy.save()

    first, second = page(ops), page(ops, p=2)

    assert "30 → 31" in first
    assert "6 → 7" in first
    assert "5 → 6" not in first
    assert "5 → 6" in second
    assert "created" in second
    assert "31 changes" in first
    assert 'href="?p=2"' in first


def test_a_person_sees_only_the_types_they_may_view(db, make_policy, make_token):
    reader = User.objects.create_user("rita", password="a-long-test-password", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_alertpolicy"))
    client = Client()
    client.force_login(reader)
    make_policy(name="Search failures")
    make_token(name="litellm-prod")

    html = page(client)

    assert "Search failures" in html
    assert "litellm-prod" not in html
    assert client.get(URL, {"type": "ingest.ingesttoken"}).status_code == 400


def test_bad_filters_are_refused_naming_the_field(ops):
    assert ops.get(URL, {"type": "auth.nothing"}).content.decode().startswith("type:")
    response = ops.get(URL, {"user": "me"})
    assert (response.status_code, response.content.decode()[:5]) == (400, "user:")


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_admin_index_links_to_it(ops):
    assert f'href="{URL}"' in ops.get(reverse("admin:index")).content.decode()


def test_a_history_page_has_no_empty_change_reason_column_and_shows_booleans_as_on_off(
    ops, make_policy
):
    policy = make_policy(name="Search failures")
    edit_policy(ops, policy, enabled=False)

    html = ops.get(reverse("admin:policies_alertpolicy_history", args=[policy.pk])).content
    text = unescape(html.decode())

    assert "Change reason" not in text
    assert "<strong>Enabled:</strong> on → off" in text
    assert AlertPolicy.history.count() == 2


def test_a_recorded_reason_still_shows_with_its_change(ops):
    ends = timezone.now() + timedelta(minutes=1)
    data = {"enabled": "on", "reason": "database upgrade"}
    data |= {"ends_at_0": f"{ends:%Y-%m-%d}", "ends_at_1": f"{ends:%H:%M:%S}"}
    ops.post(reverse("admin:policies_maintenance_change", args=[1]), data)
    evaluate_all(ends + timedelta(seconds=1))

    history = ops.get(reverse("admin:policies_maintenance_history", args=[1])).content.decode()

    assert "Changed: ended by itself at its end time" in history
    assert "ended by itself at its end time" in page(ops, type="policies.maintenance")
    assert not Maintenance.current().enabled
    assert IngestToken.history.count() == 0
