"""Failures, failure-rate and slow policies counted from the request counts give exactly what
each policy's own query of the request rows gives: on the shared counting test's scenario
(requests on each side of every window edge and every T, every grouping, filters,
failure-class opt-ins), folded and not, at whole-second moments and between them."""

from datetime import timedelta

import pytest
from django.db import connection

from ingest import rollups
from policies import kinds
from policies.counting import TABLE
from policies.evaluation import Count
from policies.kinds import Measure
from policies.models import GroupBy, PolicyKind
from policies.rollup_counting import MEASURES, count_finished
from policies.selection import GROUP_EXPRESSIONS, failed_of, filters_of, window_start
from tests.counting_scenario import NOW, make_policies, make_requests, reference_counts, search_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario():
    policies = [p for p in make_policies(search_team()) if kinds.get(p.kind).measure in MEASURES]
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
    hung = make_policy(kind=PolicyKind.HUNG, duration_seconds=5.0)

    with pytest.raises(ValueError, match="hung policies are not counted from rollups"):
        count_finished([hung], NOW)


def rows_counted(policies, now):
    """Each policy's query of the rows, with the rollups' edge rule: finished in
    (the whole second at or before now - Y, now]."""
    counts = {}
    with connection.cursor() as cursor:
        for policy in policies:
            failed, classes = failed_of(policy)
            where = ["finished_at > %s", "finished_at <= %s"]
            params = [window_start(policy, now), now]
            measure = kinds.get(policy.kind).measure
            if measure is Measure.FAILED:
                where.append(failed)
                params += classes
            if measure is Measure.SLOW:
                where.append("latency_seconds > %s")
                params.append(policy.duration_seconds)
            for condition, condition_params in filters_of(policy):
                where.append(condition)
                params += condition_params
            matched, matched_params = failed, classes
            seconds = kinds.get(policy.kind).histogram.seconds
            if measure is Measure.PERCENTILE:
                matched, matched_params = f"{seconds} > %s", (policy.duration_seconds,)
                if kinds.get(policy.kind).histogram.reported:  # streamed requests only
                    where.append(f"{seconds} IS NOT NULL")
            # Region outages: the deployments among the failed requests.
            spread = kinds.get(policy.kind).min_failing_deployments > 0
            deployments = "COUNT(DISTINCT deployment_id)" if spread else "0"
            # Percentiles: the requests slower than their critical T.
            critical, critical_params = "0", []
            if policy.critical_duration_seconds is not None:
                critical = f"SUM(CASE WHEN {seconds} > %s THEN 1 ELSE 0 END)"
                critical_params = [policy.critical_duration_seconds]
            cursor.execute(
                f"SELECT {GROUP_EXPRESSIONS[GroupBy(policy.group_by)]}, "
                f"SUM(CASE WHEN {matched} THEN 1 ELSE 0 END), COUNT(*), {deployments}, "
                f"{critical} FROM {TABLE} WHERE {' AND '.join(where)} GROUP BY 1",
                [*matched_params, *critical_params, *params],
            )
            counts[policy.pk] = {
                str(g or ""): Count(int(t), int(t)) if measure is Measure.SLOW else
                Count(int(m), int(t), int(d), int(c or 0)) for g, m, t, d, c in cursor
            }  # fmt: skip
    return counts


@pytest.mark.parametrize("folded", [False, True])
@pytest.mark.parametrize("shift", [1e-6, 0.5, 59.999999, -0.25])
def test_between_whole_seconds_the_window_starts_at_the_second_before(scenario, folded, shift):
    """The fraction of the current second is read from the rows; the window starts at the
    whole second at or before now - Y: exactly what a query of the rows with that rule says."""
    if folded:
        rollups.fold()
    moment = NOW + timedelta(seconds=shift)

    expected = rows_counted(scenario, moment)

    assert count_finished(scenario, moment) == expected
    assert sum(len(groups) for groups in expected.values()) > 20


@pytest.mark.parametrize("shift", [0.5, 30.25, 59.999999])
def test_a_window_over_two_hours_starts_on_the_minute_and_needs_no_pruned_seconds(
    make_policy, shift
):
    """Counts per second are kept three hours: a longer window starts at the whole minute at
    or before now - Y, read from minutes at its start, and counts what a query of the rows
    with that rule counts, after the pruning removed the seconds it no longer needs."""
    from ingest.events import Event
    from ingest.store import store_events

    day = make_policy(kind=PolicyKind.FAILURES, threshold=1, window_seconds=86_400)
    moment = NOW + timedelta(seconds=shift)
    edge = moment - timedelta(days=1)  # requests either side of now - Y, and of its minute
    offsets = [-90, -61, -60.5, -shift - 0.000001, -shift, -1, 0, 1, 3600, 86_000]
    store_events(
        "gw",
        [
            Event(request_id=f"r{i}", finished_at=edge + timedelta(seconds=offset),
                  outcome="failure", failure_class="upstream")
            for i, offset in enumerate(offsets)
        ],
        NOW,
    )  # fmt: skip
    rollups.fold()
    rollups.prune(moment)

    expected = rows_counted([day], moment)

    assert window_start(day, moment) == (edge - timedelta(seconds=edge.second)).replace(
        microsecond=0
    )
    assert count_finished([day], moment) == expected
    # From the minute's start on: 0, 1, 3600 and 86000 s after now - Y, and 1 s before it
    # when that is still after the minute's start.
    assert expected[day.pk][""].matched == (4 if shift < 1 else 5)
