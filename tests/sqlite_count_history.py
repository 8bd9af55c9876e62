"""An incident's count history on the embedded SQLite database, in a process of its own (the
suite runs on Postgres): `python -m tests.sqlite_count_history` with no DATABASE_URL.

Prints one JSON line: the moments whose charted count differs from the evaluator's count.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alerting_console.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from policies.count_history import count_history
    from policies.counting import count_groups
    from policies.models import AlertPolicy, Incident
    from tests.engine_helpers import T0, add_requests

    call_command("migrate", verbosity=0)
    policy = AlertPolicy.objects.create(
        name="chart", threshold=3, window_seconds=60, group_by="key_alias"
    )
    # Some on the charted moments' edges (every 5 s from T0 - 60 s).
    for second, n in ((-50, 2), (-20, 1), (5, 4), (30, 3), (60, 1), (61, 1), (95, 2)):
        add_requests(n, at=T0 + timedelta(seconds=second), key_alias="k1")
    incident = Incident.objects.create(
        policy=policy, group_key="k1", dedup_key="d", summary="s", severity="error",
        started_at=T0, detected_at=T0, trigger_count=3, peak_count=3, last_count=3,
        last_paged_at=T0,
    )  # fmt: skip
    history = count_history(incident, T0 + timedelta(seconds=100))
    mismatched = []
    for i, count in enumerate(history.counts):
        expected = count_groups(policy, history.span.moment(i)).get("k1")
        if count.matched != (expected.matched if expected else 0):
            mismatched.append(i)
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "mismatched": mismatched,
                "peak": max(c.matched for c in history.counts),
            }
        )
    )


if __name__ == "__main__":
    main()
