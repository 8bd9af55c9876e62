"""The pure evaluation step: counts and state in, decisions and state out. No database."""

from datetime import UTC, datetime, timedelta

from policies.evaluation import Action, Count, GroupState, Rule, evaluate

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def run(rule, series, group="team-search"):
    """Feed one group's counts, one evaluation every 10 s; return the actions taken."""
    states: dict[str, GroupState] = {}
    actions = []
    for i, count in enumerate(series):
        counts = {group: count if isinstance(count, Count) else Count(count)}
        states, decisions = evaluate(rule, counts, states, at(10 * i))
        actions.append(decisions[0].action if decisions else None)
    return actions, states


def test_a_breach_opens_an_incident_at_once_by_default():
    actions, states = run(Rule(threshold=60), [10, 60])

    assert actions == [None, Action.OPEN]
    assert states["team-search"] == GroupState(open=True, peak=60, last_paged_at=at(10))


def test_an_incident_opens_only_after_n_consecutive_breaches():
    actions, _ = run(Rule(threshold=5, consecutive_breaches=3), [5, 6, 1, 5, 5, 7])

    assert actions == [
        Action.PENDING,
        Action.PENDING,
        None,
        Action.PENDING,
        Action.PENDING,
        Action.OPEN,
    ]


def test_an_open_incident_records_new_peaks_only():
    actions, states = run(Rule(threshold=5), [5, 9, 7, 9, 12])

    assert actions == [Action.OPEN, Action.PEAK, None, None, Action.PEAK]
    assert states["team-search"].peak == 12


def test_it_resolves_when_the_count_drops_below_the_threshold():
    actions, states = run(Rule(threshold=5), [8, 4])

    assert actions == [Action.OPEN, Action.RESOLVE]
    assert states == {}


def test_a_lower_resolve_threshold_keeps_it_open_until_the_count_falls_further():
    actions, _ = run(Rule(threshold=10, resolve_below=3), [10, 6, 3, 2])

    assert actions == [Action.OPEN, None, None, Action.RESOLVE]


def test_it_resolves_only_after_staying_clear_for_the_hold_time():
    # evaluations every 10 s; clear from t=10, a breach at t=30 restarts the wait
    actions, _ = run(Rule(threshold=5, resolve_hold_seconds=20), [5, 0, 0, 5, 0, 0, 0])

    assert actions == [Action.OPEN, None, None, None, None, None, Action.RESOLVE]


def test_an_open_incident_is_paged_again_after_the_renotify_interval():
    actions, _ = run(Rule(threshold=5, renotify_seconds=25), [5, 5, 5, 5, 5, 5, 5])

    assert actions == [Action.OPEN, None, None, Action.RENOTIFY, None, None, Action.RENOTIFY]


def test_groups_are_independent():
    rule = Rule(threshold=5)
    states, decisions = evaluate(rule, {"a": Count(5), "b": Count(1)}, {}, T0)
    assert [(d.group, d.action) for d in decisions] == [("a", Action.OPEN)]

    states, decisions = evaluate(rule, {"b": Count(7)}, states, at(10))

    assert [(d.group, d.action) for d in decisions] == [("a", Action.RESOLVE), ("b", Action.OPEN)]
    assert set(states) == {"b"}


def test_a_group_that_went_quiet_counts_as_zero():
    states, _ = evaluate(Rule(threshold=5), {"a": Count(5)}, {}, T0)

    _, decisions = evaluate(Rule(threshold=5), {}, states, at(10))

    assert [(d.group, d.action, d.count) for d in decisions] == [("a", Action.RESOLVE, Count(0, 0))]


def test_a_failure_rate_needs_the_minimum_number_of_requests():
    rule = Rule(threshold=1, rate=0.5, min_requests=10)

    actions, _ = run(rule, [Count(1, 1), Count(4, 9), Count(5, 10), Count(4, 10), Count(2, 12)])

    assert actions == [None, None, Action.OPEN, Action.RESOLVE, None]


def test_nothing_is_remembered_for_quiet_groups():
    states, decisions = evaluate(Rule(threshold=5), {"a": Count(0), "b": Count(2)}, {}, T0)

    assert (states, decisions) == ({}, [])


# Two levels: warning at 5, critical at 10 (LiteLLM's minor and major outage thresholds).
LEVELS = Rule(threshold=5, critical=10, resolve_hold_seconds=20)


def test_an_incident_opens_at_the_first_level_reached():
    actions, states = run(LEVELS, [5])
    assert (actions, states["team-search"].critical) == ([Action.OPEN], False)

    actions, states = run(LEVELS, [12])
    assert (actions, states["team-search"].critical) == ([Action.OPEN], True)


def test_it_escalates_when_the_critical_level_is_reached_once_per_crossing():
    actions, states = run(LEVELS, [5, 7, 10, 14, 11])

    assert actions == [Action.OPEN, Action.PEAK, Action.ESCALATE, Action.PEAK, None]
    assert states["team-search"].critical
    assert states["team-search"].peak == 14


def test_it_falls_back_after_staying_below_the_critical_level_for_the_hold():
    # 10 s apart: below 10 at 30 s, 40 s, 50 s; back after 20 s.
    actions, states = run(LEVELS, [5, 10, 10, 8, 9, 7, 6])

    assert actions == [Action.OPEN, Action.ESCALATE, None, None, None, Action.DEESCALATE, None]
    assert not states["team-search"].critical


def test_a_count_back_at_the_critical_level_restarts_the_wait_to_fall_back():
    actions, _ = run(LEVELS, [10, 8, 10, 8, 8, 8])

    assert actions == [Action.OPEN, None, None, None, None, Action.DEESCALATE]


def test_the_resolve_rules_belong_to_the_first_level():
    # Critical, then straight under the first level: it resolves after the hold, whatever
    # its level.
    actions, states = run(LEVELS, [12, 2, 2, 2])

    assert actions == [Action.OPEN, None, None, Action.RESOLVE]
    assert states == {}


def test_a_failure_rate_has_a_critical_share_too():
    rule = Rule(threshold=1, rate=0.05, critical=0.2, min_requests=20)

    actions, _ = run(rule, [Count(2, 20), Count(5, 20), Count(3, 20)])

    assert actions == [Action.OPEN, Action.ESCALATE, Action.DEESCALATE]
    assert rule.critical_reached(Count(4, 20))
    assert not rule.critical_reached(Count(4, 19))  # too few requests for any level


def test_a_policy_with_one_level_never_escalates():
    actions, states = run(Rule(threshold=5), [5, 50, 500])

    assert actions == [Action.OPEN, Action.PEAK, Action.PEAK]
    assert not states["team-search"].critical
