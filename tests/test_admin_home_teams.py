"""The home page's team table answers "which team is in trouble, since when": failure rate
and volume per team, an hour axis, links to the team's incidents and requests, and teams the
gateway sends that the console does not know, offered for creation."""

from datetime import timedelta
from html import unescape

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from ingest.models import GatewayRequest
from policies.models import Incident
from tests.engine_helpers import add_requests

pytestmark = pytest.mark.django_db

HOME = reverse("admin:index")


@pytest.fixture(autouse=True)
def _fresh_dashboard_cache():
    cache.clear()


def team_rows(client):
    return {row.series.label: row for row, _ in client.get(HOME).context["dashboard"]["chart_rows"]}


def test_a_busy_team_at_a_normal_error_rate_ranks_below_a_small_team_failing_most(ops, make_team):
    make_team(name="Big", gateway_team_alias="big")
    make_team(name="Small", gateway_team_alias="small")
    at = timezone.now() - timedelta(minutes=5)
    add_requests(50, at=at, gateway_team_alias="big")
    add_requests(950, at=at, outcome="success", gateway_team_alias="big")
    add_requests(8, at=at, gateway_team_alias="small")
    add_requests(2, at=at, outcome="success", gateway_team_alias="small")

    rows = team_rows(ops)
    html = ops.get(HOME).content.decode()

    assert (rows["Big"].finished, rows["Big"].failed, rows["Big"].failure_percent) == (
        1000, 50, "5.0%"
    )  # fmt: skip
    assert (rows["Small"].finished, rows["Small"].failure_percent) == (10, "80.0%")
    assert list(rows) == ["Small", "Big"]  # the rate ranks them, not the count of failures
    assert "<th>Failure rate</th><th>Requests</th>" in html


def test_a_team_with_only_successes_is_listed_at_zero_percent(ops, make_team):
    make_team(name="Calm", gateway_team_id="t-calm")
    add_requests(4, at=timezone.now(), outcome="success", gateway_team_id="t-calm")

    rows = team_rows(ops)

    assert (rows["Calm"].finished, rows["Calm"].failure_percent) == (4, "0.0%")


def test_the_chart_has_hour_labels_on_its_axis(ops, make_team):
    make_team(name="Search", gateway_team_alias="search")
    add_requests(1, at=timezone.now(), gateway_team_alias="search")

    html = ops.get(HOME).content.decode()

    axis = html[html.index("<tfoot>") : html.index("</tfoot>")]
    first = ops.get(HOME).context["dashboard"]["chart_labels"][0]
    assert f">{first}</text>" in axis


def test_a_known_teams_row_links_to_its_incidents_and_its_requests(ops, make_team, make_policy):
    search = make_team(name="Search", gateway_team_id="t-search")
    other = make_team(name="Billing", gateway_team_id="t-billing")
    now = timezone.now()
    add_requests(2, at=now, gateway_team_id="t-search")
    add_requests(1, at=now, gateway_team_id="t-billing")
    policy = make_policy(name="Failures")
    for team, summary in ((search, "search is down"), (other, "billing is down")):
        Incident.objects.create(
            policy=policy, team=team, group_key=team.slug, dedup_key=f"d-{team.pk}",
            summary=summary, severity="error", started_at=now - timedelta(minutes=30),
            detected_at=now - timedelta(minutes=30), trigger_count=1, peak_count=1, last_count=1,
            last_paged_at=now,
        )  # fmt: skip

    html = unescape(ops.get(HOME).content.decode())
    row = team_rows(ops)["Search"]

    incidents = f"{reverse('admin:policies_incident_changelist')}?team__id__exact={search.pk}"
    requests = f"{reverse('admin:ingest_gatewayrequest_changelist')}?team={search.pk}"
    assert f'href="{incidents}"' in html
    assert f'href="{requests}"' in html
    assert row.open_incidents == 1
    assert row.open_since == now - timedelta(minutes=30)
    listed = ops.get(incidents).content.decode()
    assert "search is down" in listed
    assert "billing is down" not in listed
    shown = ops.get(requests).context["cl"].result_list
    assert {r.gateway_team_id for r in shown} == {"t-search"}


def test_a_team_the_gateway_sends_but_the_console_does_not_know_is_offered_for_creation(ops):
    add_requests(3, at=timezone.now(), gateway_team_id="t-42", gateway_team_alias="Payments")

    html = unescape(ops.get(HOME).content.decode())
    [row] = team_rows(ops).values()

    assert row.unknown
    add = reverse("admin:policies_team_add")
    link = f"{add}?name=Payments&slug=payments&gateway_team_id=t-42&gateway_team_alias=Payments"
    assert f'href="{link}"' in html
    form = ops.get(link).context["adminform"].form
    assert (form["gateway_team_id"].value(), form["gateway_team_alias"].value()) == (
        "t-42", "Payments"
    )  # fmt: skip


def test_a_team_known_by_its_slug_is_not_offered_again(ops, make_team):
    make_team(name="Search", slug="search")  # a team token stamps its slug as the team id
    add_requests(1, at=timezone.now(), gateway_team_id="search")

    [row] = team_rows(ops).values()

    assert (row.series.label, row.unknown) == ("Search", False)


def test_requests_without_any_team_are_listed_but_not_offered(ops):
    add_requests(1, at=timezone.now())

    [row] = team_rows(ops).values()

    assert (row.series.label, row.unknown) == ("no team", False)


def test_the_home_page_reads_the_same_number_of_queries_for_many_teams(
    ops, django_assert_max_num_queries
):
    now = timezone.now()
    add_requests(1, at=now, gateway_team_id="t-1")
    GatewayRequest.objects.create(
        source="gw", request_id="hung", started_at=now - timedelta(hours=1),
        received_at=now, gateway_team_id="t-1",
    )  # fmt: skip
    cache.clear()
    with django_assert_max_num_queries(100) as few:
        ops.get(HOME)
    cache.clear()
    for n in range(2, 30):
        add_requests(1, at=now, gateway_team_id=f"t-{n}")

    with django_assert_max_num_queries(len(few.captured_queries)):
        ops.get(HOME)


def test_an_id_sent_with_the_alias_of_a_team_known_by_alias_only_is_offered_for_that_team(
    ops, make_team
):
    """policies/team_key.py: the id wins, so the team known by alias only does not own these
    requests; the home page says so and links to the team, where the id can be set."""
    payments = make_team(name="Payments", slug="payments", gateway_team_alias="Payments")
    add_requests(3, at=timezone.now(), gateway_team_id="t-42", gateway_team_alias="Payments")
    add_requests(2, at=timezone.now(), gateway_team_id="t-43", gateway_team_alias="Payments")
    add_requests(1, at=timezone.now(), gateway_team_id="t-42", gateway_team_alias="Renamed")

    response = ops.get(HOME)
    html = unescape(response.content.decode())
    rows = [row for row, _ in response.context["dashboard"]["chart_rows"]]

    assert {(r.series.label, r.finished, r.alias_of) for r in rows} == {
        ("Payments (t-42)", 4, (payments.pk, "Payments")),  # one row per team key
        ("Payments (t-43)", 2, (payments.pk, "Payments")),
    }
    change = reverse("admin:policies_team_change", args=[payments.pk])
    assert f'href="{change}">set its gateway team id to “t-42”' in html
