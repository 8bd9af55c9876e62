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
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "policies": len(policies),
                "policies_counting": sum(1 for groups in expected.values() if groups),
                "mismatched": [pk for pk in expected if shared[pk] != expected[pk]],
            }
        )
    )


if __name__ == "__main__":
    main()
