"""Failures and failure-rate policies counted from the request counts give exactly what each
policy's own query of the request rows gives: on the shared counting test's scenario (requests
on each side of every window edge, every grouping, filters, failure-class opt-ins), folded and
not, at whole-second moments."""

from datetime import timedelta

import pytest

from ingest import rollups
from policies.models import PolicyKind
from policies.rollup_counting import KINDS, count_finished
from tests.counting_scenario import NOW, make_policies, make_requests, reference_counts, search_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario():
    policies = [p for p in make_policies(search_team()) if p.kind in KINDS]
    make_requests()
    return policies


@pytest.mark.parametrize("folded", [False, True])
@pytest.mark.parametrize("shift", [0, -30, -1, 1, 3599])
def test_it_counts_what_each_policys_own_query_counts(scenario, folded, shift):
    if folded:
        rollups.fold()
    moment = NOW + timedelta(seconds=shift)

    expected = reference_counts(scenario, moment)

    assert count_finished(scenario, moment) == expected
    # Not equal by being empty: even an hour later, the long windows count several groups.
    assert sum(len(groups) for groups in expected.values()) > 20


def test_a_policy_it_cannot_count_yet_is_an_error_not_a_guess(make_policy):
    slow = make_policy(kind=PolicyKind.SLOW, duration_seconds=5.0)

    with pytest.raises(ValueError, match="slow policies are not counted from rollups yet"):
        count_finished([slow], NOW)
