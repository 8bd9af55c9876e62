"""The incident list answers "what is open" first: open incidents above resolved ones, newest
first within each."""

import pytest

from policies.admin.incident import SUMMARY_SHOWN
from policies.models import Incident, IncidentStatus
from tests.engine_helpers import T0, later

pytestmark = pytest.mark.django_db


def make_incident(policy, summary, detected_at, status=IncidentStatus.OPEN):
    return Incident.objects.create(
        policy=policy, dedup_key=summary, summary=summary, severity="error", status=status,
        group_key=summary, started_at=detected_at, detected_at=detected_at,
        trigger_count=5, peak_count=5, last_count=5, last_paged_at=detected_at,
    )  # fmt: skip


def test_open_incidents_are_listed_first_and_newest_first(ops, make_policy):
    """Found by review: the list ordered by the status's spelling, "resolved" above "open"."""
    policy = make_policy()
    make_incident(policy, "old-open", T0)
    make_incident(policy, "new-resolved", later(600), IncidentStatus.RESOLVED)
    make_incident(policy, "new-open", later(300))
    make_incident(policy, "old-resolved", later(-600), IncidentStatus.RESOLVED)

    page = ops.get("/admin/policies/incident/").content.decode()

    order = ["new-open", "old-open", "new-resolved", "old-resolved"]
    positions = [page.index(f">{summary}<") for summary in order]
    assert positions == sorted(positions)


def test_the_list_says_what_each_incident_is_about_in_one_column(ops, make_policy, make_team):
    policy = make_policy(name="Search upstream failures and a policy name people make long")
    summary = f"{policy.name}: 1234 failed requests in 600 s for team team-search-and-more-"
    summary += "of-a-team-whose-gateway-id-is-long"
    incident = make_incident(policy, summary, T0)
    incident.team = make_team(slug="search", name="Search")
    incident.key_alias, incident.model = "search-svc", "gpt-4o"
    incident.save()
    make_incident(make_policy(name="Everything"), "Everything: 9 failed", later(1))

    page = ops.get("/admin/policies/incident/").content.decode()

    assert "team Search · key search-svc · model gpt-4o" in page
    assert '<td class="field-about">everything</td>' in page
    shown = summary[: SUMMARY_SHOWN - 1]
    assert f'<span title="{summary}">{shown}…</span>' in page  # whole on hover
