"""The incident list answers "what is open" first: open incidents above resolved ones, newest
first within each."""

import pytest

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
