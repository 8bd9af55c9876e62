"""Migration 0008 keeps every incident and gives those recorded before it noticed_at =
detected_at (nothing else is known of when they were noticed)."""

from datetime import UTC, datetime

import pytest

from tests.migrating import migrate, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("policies", "0007_routing_key_owning_team")]
AFTER = [("policies", "0008_incident_noticed_at")]


def test_existing_incidents_are_noticed_when_they_were_detected():
    old = migrate(BEFORE)
    policy = old.get_model("policies", "AlertPolicy").objects.create(name="Upstream failures")
    detected = [datetime(2026, 11, d, 12, 0, tzinfo=UTC) for d in (20, 21)]
    for i, at in enumerate(detected):
        old.get_model("policies", "Incident").objects.create(
            policy=policy, group_key=f"team-{i}", dedup_key=f"k{i}", summary="s",
            severity="error", started_at=at, detected_at=at, trigger_count=1, peak_count=1,
            last_count=1, last_paged_at=at, status="resolved",
        )  # fmt: skip
    try:
        new = migrate(AFTER)
        rows = new.get_model("policies", "Incident").objects.order_by("detected_at")
        assert [(r.detected_at, r.noticed_at) for r in rows] == [(at, at) for at in detected]
    finally:
        migrate_to_latest()
