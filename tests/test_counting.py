"""What each kind of policy counts, per group, in one query."""

from datetime import UTC, datetime, timedelta

import pytest

from ingest.models import GatewayRequest
from policies.counting import count_groups, count_rows
from policies.evaluation import Count

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def ago(seconds):
    return NOW - timedelta(seconds=seconds)


_ids = iter(range(1, 1_000_000))


def request(*, started=None, finished=None, outcome="", failure_class="", latency=None, **fields):
    if finished is not None and started is not None and latency is None:
        latency = (finished - started).total_seconds()
    return GatewayRequest.objects.create(
        source="gw",
        request_id=f"r{next(_ids)}",
        started_at=started,
        finished_at=finished,
        outcome=outcome,
        failure_class=failure_class,
        latency_seconds=latency,
        received_at=NOW,
        **fields,
    )


def failure(seconds_ago, failure_class="upstream", **fields):
    return request(
        finished=ago(seconds_ago), outcome="failure", failure_class=failure_class, **fields
    )


def success(seconds_ago, **fields):
    return request(finished=ago(seconds_ago), outcome="success", **fields)


def test_failures_counts_upstream_failures_within_the_window(make_policy):
    policy = make_policy(kind="failures", threshold=1, window_seconds=60)
    failure(10), failure(59), failure(61), failure(5, "gateway"), failure(5, "client"), success(5)

    assert count_groups(policy, NOW) == {"": Count(2, 2)}


def test_between_whole_seconds_a_window_starts_at_the_whole_second_before_now_minus_y(
    make_policy,
):
    """The edge rule (docs/rollups.md): request counts are kept per whole second, so a window
    read half a second past one starts at the second before now - Y, from the rows as from the
    counts."""
    policy = make_policy(kind="failures", threshold=1, window_seconds=60)
    now = NOW + timedelta(seconds=0.5)
    failure(59.8), failure(59.999999), failure(60), failure(-0.5), failure(-0.6)

    # NOW - 59.8 s and NOW - 59.999999 s are before now - Y (NOW - 59.5 s), and after NOW - 60 s;
    # NOW + 0.5 s is now itself, NOW + 0.6 s after it.
    assert count_groups(policy, now) == {"": Count(3, 3)}
    assert count_rows([policy], now) == {policy.pk: {"": Count(3, 3)}}


def test_a_policy_can_count_gateway_rejections_and_client_errors(make_policy):
    policy = make_policy(threshold=1, count_gateway_rejections=True, count_client_errors=True)
    failure(10), failure(5, "gateway"), failure(5, "client")

    assert count_groups(policy, NOW)[""].matched == 3


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        ("team", {"team-search": 2, "team-ads": 1, "Checkout": 1}),
        ("key_alias", {"search-service": 2, "ads-service": 1, "": 1}),
        ("model", {"gpt-4o": 3, "openai/gpt-4o-mini": 1}),
    ],
)
def test_counts_are_per_group(make_policy, group_by, expected):
    policy = make_policy(threshold=1, group_by=group_by)
    failure(1, gateway_team_id="team-search", key_alias="search-service", model_group="gpt-4o")
    failure(2, gateway_team_id="team-search", key_alias="search-service", model_group="gpt-4o")
    failure(3, gateway_team_id="team-ads", key_alias="ads-service", model_group="gpt-4o")
    failure(4, gateway_team_alias="Checkout", model="openai/gpt-4o-mini")

    counts = count_groups(policy, NOW)

    assert {group: count.matched for group, count in counts.items()} == expected


def test_filters_narrow_what_is_counted(make_policy, make_team):
    team = make_team(slug="search", gateway_team_id="team-search", gateway_team_alias="Search")
    policy = make_policy(threshold=1, filter_team=team, filter_model="gpt-4o")
    failure(1, gateway_team_id="team-search", model_group="gpt-4o")
    failure(1, gateway_team_alias="Search", model_group="gpt-4o")
    failure(1, gateway_team_id="search", model_group="gpt-4o")  # a token bound to the team
    failure(1, gateway_team_id="team-search", model_group="claude")
    failure(1, gateway_team_id="team-ads", model_group="gpt-4o")

    assert count_groups(policy, NOW)[""].matched == 3


def test_slow_counts_requests_longer_than_t(make_policy):
    policy = make_policy(kind="slow", duration_seconds=5, threshold=1, window_seconds=60)
    success(10, latency=6), failure(10, latency=7), success(10, latency=4), success(90, latency=60)

    assert count_groups(policy, NOW)[""].matched == 2


def test_hung_counts_requests_that_passed_t_unfinished_within_the_window(make_policy):
    policy = make_policy(kind="hung", duration_seconds=60, threshold=1, window_seconds=600)
    request(started=ago(61))  # hung for 1 s now
    request(started=ago(600))  # hung at ago(540): in the window
    request(started=ago(700))  # hung at ago(640): before the window
    request(started=ago(30))  # running, not hung yet
    request(
        started=ago(200), finished=ago(100), outcome="failure", failure_class="upstream"
    )  # hung, then failed
    request(started=ago(200), finished=ago(190), outcome="success")  # finished in time

    assert count_groups(policy, NOW)[""].matched == 3


def test_failure_rate_counts_failed_and_all_finished_requests(make_policy):
    policy = make_policy(kind="failure_rate", failure_rate_percent=50, window_seconds=60)
    failure(1), failure(2), failure(3, "client"), success(4), request(started=ago(5))

    assert count_groups(policy, NOW) == {"": Count(2, 4)}


def test_it_is_one_query_however_many_groups(make_policy, django_assert_num_queries):
    policy = make_policy(threshold=1, group_by="key_alias")
    for i in range(20):
        failure(1, key_alias=f"service-{i}")

    with django_assert_num_queries(1):
        assert len(count_groups(policy, NOW)) == 20
