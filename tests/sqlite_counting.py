"""The counting scenario on the embedded SQLite database, in a process of its own (the test
suite itself runs on Postgres): `python -m tests.sqlite_counting` with no DATABASE_URL.

Prints one JSON line: which policies' shared counts differ from their own queries'.
"""

from __future__ import annotations

import json
import os

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alerting_console.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from policies.counting import count_all
    from tests.counting_scenario import (
        NOW,
        make_policies,
        make_requests,
        reference_counts,
        search_team,
    )

    call_command("migrate", verbosity=0)
    policies = make_policies(search_team())
    make_requests()
    shared = count_all(policies, NOW)
    expected = reference_counts(policies, NOW)
    # The kinds with reads of their own: too little traffic, budgets.
    from datetime import timedelta
    from decimal import Decimal

    from ingest.models import GatewayRequest
    from policies.budget_counting import spend_all
    from tests.test_kind_budget import budget_policy, rows_spent
    from tests.test_kind_too_little_traffic import quiet_policy, reference

    quiet = quiet_policy(group_by="key_alias", min_requests=2)
    quiet.save()
    budget = budget_policy(group_by="key_alias", budget=Decimal("1"))
    budget.save()
    for n, (hours, cost) in enumerate([(1, 0.25), (30, 0.5), (24 * 30, 4.0), (0.1, 0.125)]):
        at = NOW - timedelta(hours=hours)
        GatewayRequest.objects.create(
            source="gw", request_id=f"spent-{n}", finished_at=at, received_at=at,
            outcome="success", key_alias="k1", cost=cost,
        )  # fmt: skip
    spends = spend_all([budget], NOW)[budget.pk]
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "policies": len(policies),
                "policies_counting": sum(1 for groups in expected.values() if groups),
                "mismatched": [pk for pk in expected if shared[pk] != expected[pk]],
                "traffic_groups": len(reference(quiet, NOW)),
                "traffic_agrees": count_all([quiet], NOW)[quiet.pk] == reference(quiet, NOW),
                "spends": spends,
                "spends_agree": spends == rows_spent(budget, NOW),
            }
        )
    )


if __name__ == "__main__":
    main()
