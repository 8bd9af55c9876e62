"""Creating an ingest token in the admin: shown once, on a page a reload does not repeat, with
a curl line to try it."""

import pytest
from django.urls import reverse

from ingest.models import IngestToken, hash_token

pytestmark = pytest.mark.django_db

ADD = reverse("admin:ingest_ingesttoken_add")
DATA = {"name": "gw", "source": "litellm-prod", "team": "", "enabled": "on"}


def test_the_new_token_is_shown_once_after_a_redirect(ops, settings):
    settings.CONSOLE_BASE_URL = "https://console.example.com"

    response = ops.post(ADD, DATA, follow=True)

    [(shown_at, status)] = response.redirect_chain
    assert status == 302
    html = response.content.decode()
    row = IngestToken.objects.get()
    token = html.split('id="ingest-token"')[1].split(">")[1].split("<")[0]
    assert row.token_hash == hash_token(token)
    assert "curl -sS https://console.example.com/ingest/v1/events" in html
    assert f"Authorization: Bearer {token}" in html
    assert "no-store" in response["Cache-Control"]

    again = ops.get(shown_at).content.decode()  # a reload

    assert token not in again
    assert 'id="ingest-token-gone"' in again
    assert IngestToken.objects.count() == 1  # and no second token


def test_another_tokens_page_does_not_show_the_waiting_token(ops):
    ops.post(ADD, DATA)
    other = IngestToken.objects.create(name="other", source="other", token_hash="x" * 64)

    html = ops.get(reverse("admin:ingest_ingesttoken_created", args=[other.pk])).content.decode()

    assert 'id="ingest-token-gone"' in html
