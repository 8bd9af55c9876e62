"""Migration policies 0015 keeps every policy and moves a T written between two latency edges
to the edge below it (above the smallest's): counted from the request counts, it pages no less
often than before."""

import pytest
from django.db import IntegrityError, transaction

from tests.migrating import migrate, migrate_to_latest

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("policies", "0014_channel_secret_settings")]
AFTER = [("policies", "0015_durations_are_latency_edges")]


def test_each_t_moves_to_the_edge_at_or_below_it_and_nothing_else_changes():
    old = migrate(BEFORE)
    policies = old.get_model("policies", "AlertPolicy").objects
    written = {
        "slow at an edge": ("slow", 300.0),
        "slow between": ("slow", 4.5),
        "slow below all": ("slow", 0.001),
        "hung between": ("hung", 100.0),
        "hung above all": ("hung", 7 * 86400.0),
        "failures": ("failures", None),
    }
    for name, (kind, duration) in written.items():
        policies.create(name=name, kind=kind, duration_seconds=duration, threshold=3)
    try:
        new = migrate(AFTER)
        rows = new.get_model("policies", "AlertPolicy").objects
        assert {p.name: (p.kind, p.duration_seconds, p.threshold) for p in rows.all()} == {
            "slow at an edge": ("slow", 300.0, 3),
            "slow between": ("slow", 4.0, 3),
            "slow below all": ("slow", 0.1, 3),
            "hung between": ("hung", 90.0, 3),
            "hung above all": ("hung", 86400.0, 3),
            "failures": ("failures", None, 3),
        }
        # And the database refuses a T that is not an edge, whoever writes it.
        with pytest.raises(IntegrityError), transaction.atomic():
            rows.filter(name="slow at an edge").update(duration_seconds=299.0)
    finally:
        migrate_to_latest()
