"""Ingest tokens are created in the admin or by a command, shown once, stored hashed."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ingest.models import IngestToken, hash_token
from policies.models import Team

pytestmark = pytest.mark.django_db


def test_the_command_prints_the_token_once_and_stores_its_hash(make_team):
    make_team(slug="search")
    out = StringIO()

    call_command("create_ingest_token", "litellm-prod", "--team", "search", stdout=out)

    token = out.getvalue().strip().splitlines()[-1]
    row = IngestToken.objects.get()
    assert token.startswith("acs_")
    assert len(token) > 40
    assert row.token_hash == hash_token(token)
    assert (row.source, row.team, row.enabled) == ("litellm-prod", Team.objects.get(), True)


def test_the_command_names_an_unknown_team():
    with pytest.raises(CommandError, match="--team: no team with slug 'nope'"):
        call_command("create_ingest_token", "gw", "--team", "nope", stdout=StringIO())
    assert not IngestToken.objects.exists()


def test_the_command_refuses_a_source_that_is_not_a_slug():
    with pytest.raises(CommandError, match="source:"):
        call_command("create_ingest_token", "gw", "--source", "two words", stdout=StringIO())


def test_the_admin_shows_a_new_token_once(admin_client):
    response = admin_client.post(
        "/admin/ingest/ingesttoken/add/",
        {"name": "proxy", "source": "litellm-prod", "enabled": "on"},
        follow=True,
    )

    assert response.status_code == 200
    token = response.context["token"]
    row = IngestToken.objects.get()
    assert row.token_hash == hash_token(token)
    assert token in response.content.decode()

    change_page = admin_client.get(f"/admin/ingest/ingesttoken/{row.pk}/change/")
    listing = admin_client.get("/admin/ingest/ingesttoken/")
    assert token not in change_page.content.decode()
    assert token not in listing.content.decode()
    assert row.token_prefix in listing.content.decode()


def test_the_admin_disables_tokens_and_reports_how_many(admin_client, make_token):
    _, first = make_token()
    _, second = make_token(enabled=False)

    response = admin_client.post(
        "/admin/ingest/ingesttoken/",
        {"action": "disable_tokens", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert "1 token disabled." in response.content.decode()
    assert not IngestToken.objects.filter(enabled=True).exists()


def test_gateway_requests_are_read_only_in_the_admin(admin_client):
    assert admin_client.get("/admin/ingest/gatewayrequest/").status_code == 200
    assert admin_client.get("/admin/ingest/gatewayrequest/add/").status_code == 403
