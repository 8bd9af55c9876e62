"""Routing keys became PagerDuty channels with the same ids: the old admin addresses (bookmarks,
the links in messages sent before) lead permanently to the channel pages."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_old_list_leads_to_the_channel_list_with_its_query(client):
    response = client.get("/admin/policies/routingkey/?q=search")

    assert response.status_code == 301
    assert response["Location"] == "/admin/policies/channel/?q=search"


def test_an_old_routing_keys_page_leads_to_its_channels_page(ops, make_routing_key):
    make_routing_key(name="Other")
    channel = make_routing_key(name="Search on-call")

    response = ops.get(f"/admin/policies/routingkey/{channel.pk}/change/", follow=True)

    assert response.redirect_chain == [
        (reverse("admin:policies_channel_change", args=[channel.pk]), 301)
    ]
    assert response.status_code == 200
    assert response.context["original"] == channel


@pytest.mark.parametrize("rest", ["add/", "7/history/", "7/delete/", "7/test-event/"])
def test_every_other_old_page_keeps_its_path(client, rest):
    response = client.get(f"/admin/policies/routingkey/{rest}")

    assert response.status_code == 301
    assert response["Location"] == f"/admin/policies/channel/{rest}"


def test_the_redirect_stays_on_this_host(client):
    response = client.get("/admin/policies/routingkey//evil.example/")

    assert response.status_code == 301
    assert response["Location"].startswith("/admin/policies/channel/")
