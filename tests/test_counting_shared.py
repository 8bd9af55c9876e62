"""Counting all policies in one pass gives what each policy's own query counts."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.models import GatewayRequest
from policies import kinds
from policies.counting import count_all, count_groups, count_rows
from policies.evaluation import Count
from policies.models import AlertPolicy, Team
from tests.counting_scenario import (
    NOW,
    TICK,
    make_policies,
    make_requests,
    reference_counts,
    search_team,
)
from tests.embedded import run_on_embedded_sqlite

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def ago(seconds):
    return NOW - timedelta(seconds=seconds)


_ids = iter(range(1, 1_000_000))


def stored(**fields):
    """A request row; a finished one failed upstream unless told otherwise."""
    if fields.get("finished_at"):
        fields = {"outcome": "failure", "failure_class": "upstream", **fields}
    return GatewayRequest.objects.create(
        source="gw", request_id=f"r{next(_ids)}", received_at=NOW, **fields
    )


@pytest.fixture
def scenario():
    policies = make_policies(search_team())
    make_requests()
    return policies


def test_every_policy_counts_what_its_own_query_counts(scenario):
    expected = reference_counts(scenario, NOW)

    assert count_all(scenario, NOW) == expected
    assert count_rows(scenario, NOW) == expected
    # Not equal by being empty: most policies count something, in several groups.
    assert sum(1 for groups in expected.values() if groups) > 0.9 * len(scenario)
    assert sum(len(groups) for groups in expected.values()) > 2 * len(scenario)


@pytest.mark.parametrize("shift", [-30.0, -1.0, 1e-6, 0.5, 3599.0])
def test_it_agrees_at_other_moments_too(scenario, shift):
    """Catch-up evaluates past moments, where requests finished after `now` exist."""
    moment = NOW + timedelta(seconds=shift)
    expected = reference_counts(scenario, moment)

    assert count_all(scenario, moment) == expected
    assert count_rows(scenario, moment) == expected


def test_each_policy_alone_counts_what_it_counts_among_the_others(scenario):
    together = count_all(scenario, NOW)

    for policy in scenario:
        assert count_groups(policy, NOW) == together[policy.pk], policy.name


def test_window_edges_are_open_at_the_start_and_closed_at_now(make_policy):
    short = make_policy(threshold=1, window_seconds=60)
    long = make_policy(threshold=1, window_seconds=300)
    for seconds in (-1e-6, 0, 60 - 1e-6, 60, 300 - 1e-6, 300):
        stored(finished_at=ago(seconds))

    counts = count_all([short, long], NOW)

    assert counts == {short.pk: {"": Count(2, 2)}, long.pk: {"": Count(4, 4)}}


def test_a_hang_counts_for_each_t_it_passed_even_if_it_finished_late(make_policy):
    after_5 = make_policy(kind="hung", duration_seconds=5, threshold=1, window_seconds=600)
    after_30 = make_policy(kind="hung", duration_seconds=30, threshold=1, window_seconds=600)
    stored(started_at=ago(500))  # still running
    for latency in [4, 5, 10, 30, 31, 400]:
        stored(started_at=ago(500), finished_at=ago(500 - latency), latency_seconds=latency)

    counts = count_all([after_5, after_30], NOW)

    assert counts == {after_5.pk: {"": Count(5, 5)}, after_30.pk: {"": Count(3, 3)}}


def test_hung_windows_far_apart_count_only_their_own_starts(make_policy):
    soon = make_policy(kind="hung", duration_seconds=5, threshold=1, window_seconds=60)
    late = make_policy(kind="hung", duration_seconds=3600, threshold=1, window_seconds=60)
    for seconds in [5, 5 + TICK.total_seconds(), 65, 1000, 3600, 3600.5, 3660]:
        stored(started_at=ago(seconds))

    counts = count_all([soon, late], NOW)

    assert counts == {soon.pk: {"": Count(2, 2)}, late.pk: {"": Count(2, 2)}}


def test_filters_and_groups_of_different_policies_do_not_mix(make_policy, make_team):
    team = make_team(slug="search", gateway_team_id="team-search", gateway_team_alias="Search")
    by_team = make_policy(threshold=1, group_by="team")
    search_by_key = make_policy(threshold=1, group_by="key_alias", filter_team=team)
    gpt_everything = make_policy(threshold=1, filter_model="gpt-4o")
    for team_id, alias, key, model in [
        ("team-search", "", "k1", "gpt-4o"),
        ("", "Search", "k2", "gpt-4o"),
        ("search", "", "k1", "claude"),
        ("team-ads", "", "k1", "gpt-4o"),
        ("", "Checkout", "", "claude"),
    ]:
        stored(
            finished_at=ago(1),
            gateway_team_id=team_id,
            gateway_team_alias=alias,
            key_alias=key,
            model_group=model,
        )

    counts = count_all([by_team, search_by_key, gpt_everything], NOW)

    assert counts[by_team.pk] == {
        "team-search": Count(1, 1),
        "Search": Count(1, 1),
        "search": Count(1, 1),
        "team-ads": Count(1, 1),
        "Checkout": Count(1, 1),
    }
    assert counts[search_by_key.pk] == {"k1": Count(2, 2), "k2": Count(1, 1)}
    assert counts[gpt_everything.pk] == {"": Count(3, 3)}


@st.composite
def policies(draw):
    team = Team(
        name="Search", slug="search", gateway_team_id="team-search", gateway_team_alias="Search"
    )
    drawn = []
    for pk in range(1, draw(st.integers(min_value=1, max_value=8)) + 1):
        kind = draw(
            st.sampled_from(
                [
                    "failures",
                    "failure_rate",
                    "slow",
                    "hung",
                    "deployment_outage",
                    "region_outage",
                    "latency_percentile",
                    "first_token_percentile",
                ]
            )
        )
        outage = kind in ("deployment_outage", "region_outage")
        every_group = ["everything", "team", "key_alias", "model", "deployment", "region"]
        drawn.append(
            AlertPolicy(
                pk=pk,
                kind=kind,
                group_by=(
                    kinds.get(kind).defaults.group_by
                    if outage
                    else draw(st.sampled_from(every_group))
                ),
                window_seconds=draw(st.sampled_from([1, 2, 60, 61, 300])),
                duration_seconds=(
                    draw(st.sampled_from([0.5, 1.0, 5.0, 60.0]))
                    if kind in ("slow", "hung", "latency_percentile", "first_token_percentile")
                    else None
                ),
                count_gateway_rejections=not outage and draw(st.booleans()),
                count_client_errors=not outage and draw(st.booleans()),
                filter_team=draw(st.sampled_from([None, team])),
                filter_key_alias=draw(st.sampled_from(["", "k1"])),
                filter_model=draw(st.sampled_from(["", "gpt-4o"])),
                percentile=(
                    draw(st.sampled_from([50, 90, 95, 99]))
                    if kind in ("latency_percentile", "first_token_percentile")
                    else None
                ),
            )
        )
    return drawn


# Offsets from now, in seconds, around the windows, T and their sums drawn above.
offsets = st.sampled_from([-1, 0, 0.5, 1, 1.5, 2, 3, 5.5, 6, 59, 60, 61, 62, 65, 120, 300, 400])
requests = st.lists(
    st.tuples(
        offsets,  # finished (or, with no latency, started) this long ago
        st.sampled_from([None, 0.25, 0.5, 1.0, 4.0, 5.0, 61.0]),  # latency
        st.sampled_from([None, 0.25, 1.0, 5.0, 61.0]),  # time to first token
        st.booleans(),  # still running: no finish
        st.sampled_from(["upstream", "gateway", "client", ""]),  # "": success
        st.sampled_from([("team-search", ""), ("", "Search"), ("search", ""), ("team-b", "B")]),
        st.sampled_from(["k1", "k2", ""]),
        st.sampled_from([("gpt-4o", ""), ("", "gpt-4o"), ("claude", "anthropic/claude")]),
        st.sampled_from(["", "dep-1", "dep-2", "dep-3"]),
        st.sampled_from([("", ""), ("azure", "eastus"), ("azure", "westus"), ("aws", "eastus")]),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=policies(), rows=requests)
def test_generated_policies_and_requests_agree_with_their_own_queries(drawn, rows):
    # Each example in a savepoint of its own, undone after: the next starts from nothing.
    with transaction.atomic():
        _agree_with_their_own_queries(drawn, rows)
        transaction.set_rollback(True)


def _agree_with_their_own_queries(drawn, rows):
    created = []
    for n, row in enumerate(rows):
        (
            seconds,
            latency,
            first_token,
            running,
            failure_class,
            team,
            key,
            model,
            deployment,
            region,
        ) = row
        end = ago(seconds)
        start = end if latency is None else end - timedelta(seconds=latency)
        created.append(
            GatewayRequest(
                source="gw",
                request_id=f"r{n}",
                started_at=start,
                finished_at=None if running else end,
                outcome="" if running else ("failure" if failure_class else "success"),
                failure_class="" if running else failure_class,
                latency_seconds=None if running else latency,
                time_to_first_token_seconds=None if running else first_token,
                gateway_team_id=team[0],
                gateway_team_alias=team[1],
                key_alias=key,
                model_group=model[0],
                model=model[1],
                deployment_id=deployment,
                provider=region[0],
                region=region[1],
                received_at=NOW,
            )
        )
    GatewayRequest.objects.bulk_create(created)
    expected = reference_counts(drawn, NOW)

    assert count_all(drawn, NOW) == expected  # from the request counts where they serve
    assert count_rows(drawn, NOW) == expected  # every policy from the rows


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("window", [60, 86_400])  # a day's read runs with seqscan off
def test_the_query_settings_end_with_the_query(make_policy, window):
    policy = make_policy(threshold=1, window_seconds=window)
    settings = "SELECT current_setting('jit'), current_setting('work_mem'), " + (
        "current_setting('enable_seqscan')"
    )
    with connection.cursor() as cursor:
        cursor.execute(settings)
        before = cursor.fetchone()

        count_all([policy], NOW)

        cursor.execute(settings)
        assert cursor.fetchone() == before


def test_the_embedded_sqlite_database_counts_the_same(tmp_path):
    """The embedded default (no DATABASE_URL) runs the same SQL on SQLite."""
    result = run_on_embedded_sqlite("tests.sqlite_counting", tmp_path)

    assert result["vendor"] == "sqlite"
    assert result["mismatched"] == []
    assert result["policies_counting"] > 0.9 * result["policies"]
    assert result["traffic_agrees"]
    assert result["traffic_groups"] >= 2
    assert result["spends_agree"]
    assert result["spends"] == {"k1": 0.875}  # November's: not the month before
