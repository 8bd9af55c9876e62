"""The resolve confirmation says what resolving will send: a resolve to each channel the
incident's page went to, or nothing when none was sent one (muted, or no route)."""

import pytest
from django.urls import reverse

from policies.models import Delivery

pytestmark = pytest.mark.django_db


def confirmation(client, incident) -> str:
    response = client.get(reverse("admin:policies_incident_resolve", args=[incident.pk]))
    assert response.status_code == 200
    return str(response.content.decode())


def test_it_names_the_channels_that_get_a_resolve(ops, incident):
    """Found by review: the page asked the incident's "paged" column, gone with channels,
    and said "never paged, so nothing is sent" of every incident."""
    html = confirmation(ops, incident)

    assert "Each channel its page went to (Platform on-call (PagerDuty)) gets a resolve" in html
    assert "nothing is sent" not in html


def test_a_muted_incident_sends_nothing(ops, incident):
    incident.deliveries.update(status=Delivery.Status.MUTED)

    html = confirmation(ops, incident)

    assert "No channel was sent a\n  page of it, so nothing is sent." in html
    assert "gets a resolve" not in html
