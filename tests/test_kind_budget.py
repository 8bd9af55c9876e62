"""The budget kind on the database: its fields checked, spends counted as a query of the rows
sums them (on the request counts, folded or not), and from breach to pages to the period's
rollover, each level announced once."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import rollups
from ingest.models import GatewayRequest
from policies import budget_counting, engine, recording
from policies.budget import Budget
from policies.budget_counting import spend_all
from policies.models import AlertPolicy, Incident, IncidentEvent
from policies.selection import GROUP_EXPRESSIONS
from tests.engine_helpers import add_requests, drain

DECEMBER_5 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


GROUPS = "everything, team, key_alias, model and user"
BUDGET_IS = "the USD (or tokens) a period may spend"


def budget_policy(**fields):
    values = {
        "name": "Team budgets", "kind": "budget", "budget": Decimal("100"),
        "budget_unit": "usd", "budget_period": "month", "budget_time_zone": "UTC",
        "budget_warning_percents": "85, 95", "group_by": "team", "severity": "warning",
        "window_seconds": 86400, **fields,
    }  # fmt: skip
    return AlertPolicy(**values)


def test_a_rolling_budget_may_span_a_month_where_counts_are_kept_to_a_week():
    budget_policy(budget_period="rolling", window_seconds=30 * 86400).clean()
    with pytest.raises(ValidationError) as raised:
        AlertPolicy(name="Failures", window_seconds=30 * 86400).clean()

    assert raised.value.message_dict == {
        "window_seconds": ["The window can be at most 7 days (604800 s)."]
    }


def test_a_budget_policy_keeps_its_first_warning_level_as_its_threshold():
    policy = budget_policy(budget_warning_percents="80, 90", threshold=60)

    policy.clean()

    assert policy.threshold == 80
    assert policy.describe() == "$100.00 a month (UTC), warning at 80, 90 %"


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"budget_period": "rolling", "window_seconds": 32 * 86400},
            {"window_seconds": ["The window can be at most 31 days (2678400 s)."]},
        ),
        (
            {"budget": None},
            {"budget": [f"A budget policy needs its budget: {BUDGET_IS}."]},
        ),
        (
            {"budget_period": ""},
            {
                "budget_period": [
                    "A budget policy needs its period: a day, a week, a month, or a rolling "
                    "window of Y seconds."
                ]
            },
        ),
        (
            {"kind": "failures", "group_by": "everything"},
            {
                name: [f"Only budget policies use {words}; leave it empty."]
                for name, words in [
                    ("budget", "a budget"),
                    ("budget_unit", "a budget's unit"),
                    ("budget_period", "a budget's period"),
                    ("budget_warning_percents", "warning levels"),
                    ("budget_time_zone", "a time zone"),
                ]
            },
        ),
        (
            {"group_by": "deployment"},
            {"group_by": [f"A budget policy is evaluated per {GROUPS}."]},
        ),
    ],
)  # fmt: skip
def test_what_a_budget_policy_needs_and_only_it_may_have(fields, errors):
    with pytest.raises(ValidationError) as raised:
        budget_policy(**fields).clean()

    assert raised.value.message_dict == errors


def test_a_time_zone_and_warning_levels_that_are_not_are_refused_by_the_form():
    with pytest.raises(ValidationError) as raised:
        budget_policy(budget_time_zone="CET+1", budget_warning_percents="95, 85").clean_fields()

    assert raised.value.message_dict == {
        "budget_time_zone": [
            "'CET+1' is not a time zone: use IANA's names, like Europe/Paris or UTC."
        ],
        "budget_warning_percents": ["The warning levels must go up: 85, 95."],
    }


def spent(team, cost, at, tokens=None, **fields):
    add_requests(
        1,
        at=at,
        outcome="success",
        gateway_team_id=team,
        cost=cost,
        total_tokens=tokens,
        **fields,
    )


def rows_spent(policy, now):
    """What a query of the rows sums, per group."""
    period = budget_counting.period_of(policy, now)
    column = budget_counting.COLUMNS[policy.budget_unit]
    group = GROUP_EXPRESSIONS[policy.group_by]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {group}, SUM({column}) FROM ingest_gatewayrequest "  # noqa: S608
            "WHERE finished_at > %s AND finished_at <= %s GROUP BY 1",
            [period.start, now],
        )
        return {g: round(float(s), 6) for g, s in cursor.fetchall() if s}


@pytest.mark.django_db
@pytest.mark.parametrize("folded", [False, True])
def test_spend_is_summed_per_group_over_the_period_and_nothing_before_it(folded):
    usd = budget_policy()
    tokens = budget_policy(name="Tokens", budget_unit="tokens", budget=Decimal("1000000"))
    paris = budget_policy(name="Paris days", budget_period="day", budget_time_zone="Europe/Paris")
    for policy in (usd, tokens, paris):
        policy.full_clean()
        policy.save()
    now = DECEMBER_5 + timedelta(seconds=0.5)
    spent("search", 10.25, datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC))  # November's
    spent("search", 1.5, datetime(2026, 12, 1, 0, 0, 0, tzinfo=UTC))  # on the edge: November's
    spent("search", 2.0, datetime(2026, 12, 1, 0, 0, 0, 1, tzinfo=UTC), tokens=700)
    spent("search", 0.1, datetime(2026, 12, 4, 22, 59, 59, tzinfo=UTC), tokens=50)  # Paris: 4th
    spent("search", 0.2, datetime(2026, 12, 4, 23, 0, 1, tzinfo=UTC))  # Paris: the 5th
    spent("ads", 40.0, DECEMBER_5 + timedelta(seconds=0.25), tokens=9000)  # this very second
    spent("ads", 99.0, DECEMBER_5 + timedelta(seconds=0.75))  # after now
    if folded:
        rollups.fold()

    found = spend_all([usd, tokens, paris], now)

    assert found[usd.pk] == {"search": 2.3, "ads": 40.0} == rows_spent(usd, now)
    assert found[tokens.pk] == {"search": 750.0, "ads": 9000.0} == rows_spent(tokens, now)
    assert found[paris.pk] == {"search": 0.2, "ads": 40.0} == rows_spent(paris, now)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    costs=st.lists(
        st.tuples(
            st.integers(min_value=-3 * 86400, max_value=5),  # seconds from now
            st.floats(min_value=0, max_value=50, allow_nan=False).map(lambda c: round(c, 4)),
            st.sampled_from(["search", "ads", ""]),
            st.sampled_from(["alice", "bob", ""]),  # the key's owner
        ),
        max_size=30,
    ),
    period=st.sampled_from(["day", "week", "month", "rolling"]),
    zone=st.sampled_from(["UTC", "Asia/Kathmandu", "America/St_Johns"]),
    group_by=st.sampled_from(["team", "user"]),
    folded=st.booleans(),
)
def test_generated_spends_agree_with_a_query_of_the_rows(costs, period, zone, group_by, folded):
    with transaction.atomic():
        policy = budget_policy(
            budget_period=period, budget_time_zone=zone, window_seconds=7200, group_by=group_by
        )
        policy.save()
        for seconds, cost, team, user in costs:
            spent(team, cost, DECEMBER_5 + timedelta(seconds=seconds), user_id=user)
        if folded:
            rollups.fold()

        found = spend_all([policy], DECEMBER_5)[policy.pk]

        assert found == pytest.approx(rows_spent(policy, DECEMBER_5), abs=1e-6)
        assert found.keys() == rows_spent(policy, DECEMBER_5).keys()
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_from_85_to_95_to_the_budget_to_the_month_s_end_each_level_paged_once(
    make_route, make_channel, pagerduty
):
    make_route(make_channel(name="On-call"), scope="default")
    policy = budget_policy()
    policy.full_clean()
    policy.save()
    day = DECEMBER_5

    def evaluate_and_send(seconds):
        engine.evaluate_all(day + timedelta(seconds=seconds))
        drain(day + timedelta(seconds=seconds))

    spent("search", 86.0, day - timedelta(hours=1))
    evaluate_and_send(0)
    evaluate_and_send(10)  # nothing new: nothing said
    spent("search", 10.0, day + timedelta(seconds=15))
    evaluate_and_send(20)
    spent("search", 5.0, day + timedelta(seconds=25))
    evaluate_and_send(30)

    incident = Incident.objects.get()
    assert incident.summary == (
        "Team budgets: $101.00 of $100.00 (101%) spent this month (UTC) by team search"
    )
    assert (incident.severity, incident.status, incident.peak_count) == ("critical", "open", 101)
    assert incident.details["levels_announced"] == ["85%", "95%", "100%"]
    sent = [(e["event_action"], e["payload"]["severity"]) for e in pagerduty.events]
    assert sent == [("trigger", "warning"), ("trigger", "warning"), ("trigger", "critical")]
    assert len({e["dedup_key"] for e in pagerduty.events}) == 1
    levels = IncidentEvent.objects.filter(kind="level").values_list("message", flat=True)
    assert [m.split(".")[0] for m in levels] == ["Level reached: 95%", "Level reached: 100%"]

    # Another spend in the month changes nothing; January resolves it.
    spent("search", 50.0, day + timedelta(days=2))
    engine.evaluate_all(day + timedelta(days=2, seconds=1))
    engine.evaluate_all(datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC))
    drain(datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC))

    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert [e["event_action"] for e in pagerduty.events][3:] == ["resolve"]


@pytest.mark.django_db
def test_a_users_budget_pages_for_that_user_only(make_route, make_channel, pagerduty):
    """LiteLLM's user budgets: per user owning the key, whichever team or key they spend on."""
    make_route(make_channel(name="On-call"), scope="default")
    policy = budget_policy(name="User budgets", group_by="user", budget=Decimal("10"))
    policy.full_clean()
    policy.save()
    spent("search", 5.0, DECEMBER_5 - timedelta(hours=2), user_id="alice", key_alias="k1")
    spent("ads", 4.0, DECEMBER_5 - timedelta(hours=1), user_id="alice", key_alias="k2")
    spent("search", 8.0, DECEMBER_5 - timedelta(hours=1), user_id="bob")
    rollups.fold()

    engine.evaluate_all(DECEMBER_5)
    drain(DECEMBER_5)

    incident = Incident.objects.get()
    assert incident.group_key == "alice"
    assert incident.summary == (
        "User budgets: $9.00 of $10.00 (90%) spent this month (UTC) by user alice"
    )
    assert [e["event_action"] for e in pagerduty.events] == ["trigger"]


@pytest.mark.django_db
def test_a_level_resolved_by_hand_is_not_announced_again_in_its_period(
    make_route, make_channel, pagerduty
):
    make_route(make_channel(name="On-call"), scope="default")
    policy = budget_policy()
    policy.full_clean()
    policy.save()
    spent("search", 90.0, DECEMBER_5 - timedelta(hours=1))
    engine.evaluate_all(DECEMBER_5)
    drain(DECEMBER_5)
    recording.resolve(Incident.objects.get(), DECEMBER_5 + timedelta(seconds=5), "By hand.")

    engine.evaluate_all(DECEMBER_5 + timedelta(seconds=10))
    assert Incident.objects.count() == 1  # 85 % was announced this month
    spent("search", 6.0, DECEMBER_5 + timedelta(seconds=12))
    engine.evaluate_all(DECEMBER_5 + timedelta(seconds=20))
    drain(DECEMBER_5 + timedelta(seconds=20))

    newer = Incident.objects.latest("pk")
    assert newer.details["levels_announced"] == ["85%", "95%"]
    sent = [(e["event_action"], e.get("payload", {}).get("severity")) for e in pagerduty.events]
    assert sent == [("trigger", "warning"), ("resolve", None), ("trigger", "warning")]
    assert GatewayRequest.objects.count() == 2


@pytest.mark.django_db
def test_the_incident_page_shows_the_spend_and_levels_in_place_of_a_chart(ops):
    policy = budget_policy()
    policy.full_clean()
    policy.save()
    spent("search", 97.5, DECEMBER_5 - timedelta(hours=1))
    engine.evaluate_all(DECEMBER_5)

    page = ops.get(f"/admin/policies/incident/{Incident.objects.get().pk}/change/")

    assert page.status_code == 200
    assert (
        "$97.50 of $100.00 (97%) spent in the month from 2026-12-01T00:00:00+00:00; levels "
        "announced: 85%, 95%."
    ) in page.content.decode()


@pytest.mark.django_db
def test_a_sum_of_tiny_costs_is_kept_to_its_significant_digits():
    """Seven of LiteLLM's mock requests cost $0.0000945: 94.5 % of $0.0001, not 95 % (rounded
    to the micro-dollar, it once announced 95 %)."""
    policy = budget_policy(budget=Decimal("0.0001"))
    policy.save()
    for n in range(7):
        spent("search", 0.0000135, DECEMBER_5 - timedelta(minutes=n + 1))

    spend = spend_all([policy], DECEMBER_5)[policy.pk]["search"]

    assert spend == pytest.approx(0.0000945, rel=1e-9)
    assert Budget(0.0001, (85, 95)).reached(spend) == ["85%"]
