"""Alert history in the admin: incidents, their timeline and every delivery attempt, read-only."""

import pytest

from ingest.models import GatewayRequest
from policies.models import Delivery, Incident, Route
from tests.engine_helpers import T0, add_requests, drain, evaluate, later

pytestmark = pytest.mark.django_db

KEY = "R0AB" + "d" * 24 + "XY12"
PAGES = [
    "/admin/policies/incident/",
    "/admin/policies/delivery/",
    "/admin/policies/policystate/",
]


@pytest.fixture
def incident(make_policy, make_routing_key, make_route, pagerduty):
    make_route(make_routing_key(name="Platform", secret=KEY), scope=Route.Scope.DEFAULT)
    pagerduty.script.append(500)
    policy = make_policy(name="Upstream failures", threshold=5, resolve_hold_seconds=0)
    add_requests(5, at=later(-1), error_class="ServiceUnavailableError", status_code=503)
    evaluate(policy, T0)
    drain(T0)
    drain(later(3600))
    return Incident.objects.get()


@pytest.mark.parametrize("url", PAGES)
def test_staff_browse_the_history(admin_client, incident, url):
    assert admin_client.get(url).status_code == 200


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, incident, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_incident_page_shows_its_timeline_and_deliveries_but_not_the_key(
    admin_client, incident
):
    page = admin_client.get(f"/admin/policies/incident/{incident.pk}/change/").content.decode()

    assert incident.dedup_key in page
    assert "Opened: Upstream failures: 5 failed requests in 60 s" in page
    assert "Trigger sent to Platform" in page  # the channel, by name
    assert "attempt 1 failed (HTTP 500" in page
    assert "PagerDuty accepted it (202)" in page
    assert "ServiceUnavailableError" in page
    assert KEY not in page
    assert KEY[4:-4] not in page


def test_each_attempt_is_listed_on_the_delivery_page(admin_client, incident):
    delivery = incident.deliveries.get()
    page = admin_client.get(f"/admin/policies/delivery/{delivery.pk}/change/").content.decode()

    assert delivery.attempts_made.count() == 2
    assert "500" in page
    assert "202" in page
    assert KEY not in page


def test_history_cannot_be_edited_or_deleted(admin_client, incident):
    assert admin_client.get("/admin/policies/incident/add/").status_code == 403
    assert admin_client.post(f"/admin/policies/incident/{incident.pk}/delete/").status_code == 403
    assert Delivery.objects.exists()


def test_the_timeline_lists_each_attempt_with_pagerdutys_answer_in_order(admin_client, incident):
    response = admin_client.get(f"/admin/policies/incident/{incident.pk}/change/")
    html = response.content.decode()
    timeline = html[html.index('id="incident-timeline"') :]
    timeline = timeline[: timeline.index("</table>")]

    opened = timeline.index("Opened: Upstream failures")
    failed = timeline.index("HTTP 500")
    accepted = timeline.index("HTTP 202")
    assert opened < failed < accepted
    # Found by review: each attempt was shown twice, as a "Delivery" row and a "sent" row.
    rows = timeline.split("<tr>")[1:]
    assert sum("Trigger sent" in row for row in rows) == 2
    assert sum("Trigger: " in row for row in rows) == 2  # each with its decision
    assert not any("<td>Delivery</td>" in row for row in rows)


def test_sample_requests_link_to_their_rows_and_say_when_pruned(admin_client, incident):
    sample = incident.details["sample_request_ids"]
    GatewayRequest.objects.filter(request_id=sample[0]).delete()  # pruned since
    kept = GatewayRequest.objects.get(request_id=sample[1])

    html = admin_client.get(f"/admin/policies/incident/{incident.pk}/change/").content.decode()

    assert f'<a href="/admin/ingest/gatewayrequest/{kept.pk}/change/">{sample[1]}</a>' in html
    assert f"{sample[0]} (pruned)" in html


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("q={request_id}", True),
        ("q=no-such-request", False),
        ("model__exact=", True),  # no model on these requests
        ("status__exact=open", True),
        ("status__exact=resolved", False),
        ("muted=no", True),
        ("muted=yes", False),
    ],
)
def test_the_incident_list_finds_by_request_id_and_filters(admin_client, incident, query, found):
    request_id = incident.details["sample_request_ids"][2]
    url = "/admin/policies/incident/?" + query.format(request_id=request_id)

    response = admin_client.get(url)

    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == (
        [incident.pk] if found else []
    )


@pytest.mark.parametrize(("paged", "muted"), [("1", "no"), ("0", "yes")])
def test_a_bookmark_of_the_old_paged_filter_leads_to_the_muted_one(admin_client, paged, muted):
    response = admin_client.get(
        f"/admin/policies/incident/?status__exact=open&paged__exact={paged}"
    )

    assert response.status_code == 302
    assert response["Location"] == f"/admin/policies/incident/?status__exact=open&muted={muted}"
