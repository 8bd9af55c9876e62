"""Budgets decided without a database: periods in time zones, levels, the projection, and what
is announced once per period."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from policies.budget import (
    PROJECTED,
    Budget,
    Decision,
    Open,
    Period,
    Step,
    check_time_zone,
    decide,
    parse_percents,
    period_at,
    projected_date,
)

NOW = datetime(2026, 12, 17, 15, 30, 12, 500000, tzinfo=UTC)  # a Thursday
BUDGET = Budget(100.0, (85, 95))
DECEMBER = period_at("month", "UTC", NOW, 0)
EARLY = datetime(2026, 12, 5, tzinfo=UTC)  # too early in December for a projection


def decided(*args: Any, **kwargs: Any) -> Decision:
    """A decision that must be one."""
    decision = decide(*args, **kwargs)
    assert decision is not None
    return decision


def utc(year, month, day, hour=0, minute=0, second=0):
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "zone", "start", "end"),
    [
        ("day", "UTC", utc(2026, 12, 17), utc(2026, 12, 18)),
        ("week", "UTC", utc(2026, 12, 14), utc(2026, 12, 21)),  # from Monday
        ("month", "UTC", utc(2026, 12, 1), utc(2027, 1, 1)),
        # Paris is an hour ahead in winter: its day began at 23:00 UTC.
        ("day", "Europe/Paris", utc(2026, 12, 16, 23), utc(2026, 12, 17, 23)),
        # Kathmandu, 5:45 ahead: its midnight is still a whole minute.
        ("day", "Asia/Kathmandu", utc(2026, 12, 16, 18, 15), utc(2026, 12, 17, 18, 15)),
        # Los Angeles, 8 hours behind: still the 17th there, its month too.
        ("month", "America/Los_Angeles", utc(2026, 12, 1, 8), utc(2027, 1, 1, 8)),
    ],
)
def test_a_calendar_period_starts_at_midnight_in_its_time_zone(name, zone, start, end):
    assert period_at(name, zone, NOW, 0) == Period(start, end, name)


def test_a_period_across_a_change_of_summer_time_is_shorter_or_longer_by_that_hour():
    march = period_at("month", "Europe/Paris", utc(2026, 3, 20), 0)
    october = period_at("month", "Europe/Paris", utc(2026, 10, 20), 0)

    assert march.end is not None
    assert october.end is not None
    assert march.end - march.start == timedelta(days=31, hours=-1)
    assert october.end - october.start == timedelta(days=31, hours=1)


def test_a_rolling_window_ends_never_and_starts_at_a_whole_second():
    assert period_at("rolling", "UTC", NOW, 3600) == Period(
        utc(2026, 12, 17, 14, 30, 12), None, "rolling"
    )


def test_december_rolls_over_into_next_year():
    assert period_at("month", "UTC", utc(2026, 12, 31, 23, 59, 59), 0).end == utc(2027, 1, 1)


def test_a_time_zone_is_one_of_ianas():
    assert check_time_zone("Europe/Paris") is None
    assert check_time_zone("Mars/Olympus") == (
        "'Mars/Olympus' is not a time zone: use IANA's names, like Europe/Paris or UTC."
    )


@pytest.mark.parametrize(
    ("text", "levels"), [("85, 95", (85, 95)), ("50%,75 %, 90", (50, 75, 90)), ("80", (80,))]
)
def test_warning_levels_are_read_as_percentages(text, levels):
    assert parse_percents(text) == levels


NOT_A_PERCENTAGE = "is not a percentage from 1 to 99 (the budget itself, 100 %, is always a level)."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Give at least one warning level, as percentages: 85, 95."),
        ("85, 100", f"'100' {NOT_A_PERCENTAGE}"),
        ("eighty", f"'eighty' {NOT_A_PERCENTAGE}"),
        ("95, 85", "The warning levels must go up: 85, 95."),
        ("85, 85", "The warning levels must go up: 85, 95."),
    ],
)  # fmt: skip
def test_warning_levels_that_cannot_be_read_say_why(text, message):
    with pytest.raises(ValueError, match=r"\.$") as raised:
        parse_percents(text)

    assert str(raised.value) == message


def test_a_tiny_budget_s_levels_are_reached_exactly_however_floats_round():
    tiny = Budget(0.0001, (85, 95))

    assert tiny.reached(0.000085) == ["85%"]  # 0.000085 * 100 is 0.0084999... in floats
    assert tiny.reached(7 * 0.0000135) == ["85%"]  # seven mock requests: 94.5 %
    assert tiny.percent(7 * 0.0000135) == 94


def test_levels_are_reached_at_or_above_their_share_of_the_budget():
    assert BUDGET.reached(84.999999) == []
    assert BUDGET.reached(85.0) == ["85%"]
    assert BUDGET.reached(100.0) == ["85%", "95%", "100%"]
    assert (BUDGET.percent(84.99), BUDGET.percent(250.0)) == (84, 250)


def test_the_projection_extrapolates_the_pace_since_the_period_began():
    # Half of December gone (15.5 days), $60 spent: $100 at day 25.8, before it ends.
    middle = DECEMBER.start + timedelta(days=15.5)

    projected = projected_date(BUDGET, 60.0, DECEMBER, middle)

    assert projected == DECEMBER.start + timedelta(days=15.5 * 100 / 60)
    assert projected_date(BUDGET, 40.0, DECEMBER, middle) is None  # $80 by the end: fine


def test_no_projection_early_in_the_period_for_a_rolling_window_or_once_reached():
    early = DECEMBER.start + timedelta(days=7)  # under a quarter of the month
    late = DECEMBER.start + timedelta(days=20)
    rolling = period_at("rolling", "UTC", NOW, 86400)

    assert projected_date(BUDGET, 50.0, DECEMBER, early) is None
    assert projected_date(BUDGET, 90.0, rolling, NOW) is None
    assert projected_date(BUDGET, 100.0, DECEMBER, late) is None
    assert projected_date(BUDGET, 0.0, DECEMBER, late) is None


def test_the_first_level_opens_and_each_new_one_raises_once():
    first = decided(BUDGET, 86.0, DECEMBER, EARLY)
    assert (first.step, first.level, first.announced) == (Step.OPEN, "85%", ("85%",))
    assert not first.critical

    held = Open(DECEMBER.start, first.announced)
    assert decide(BUDGET, 90.0, DECEMBER, EARLY, first.announced, held) is None

    second = decided(BUDGET, 96.0, DECEMBER, EARLY, first.announced, held)
    assert (second.step, second.level, second.announced) == (Step.RAISE, "95%", ("85%", "95%"))

    third = decided(
        BUDGET, 100.0, DECEMBER, EARLY, second.announced, Open(DECEMBER.start, second.announced)
    )
    assert (third.step, third.level, third.critical) == (Step.RAISE, "100%", True)  # fmt: skip


def test_a_jump_past_several_levels_announces_the_highest_and_marks_the_others():
    decision = decided(BUDGET, 130.0, DECEMBER, EARLY)

    assert (decision.step, decision.level) == (Step.OPEN, "100%")
    assert decision.announced == ("85%", "95%", "100%")


def test_levels_a_resolved_incident_of_the_period_announced_are_not_announced_again():
    assert decide(BUDGET, 90.0, DECEMBER, EARLY, announced=("85%",)) is None
    again = decided(BUDGET, 97.0, DECEMBER, EARLY, announced=("85%",))
    assert (again.step, again.level) == (Step.OPEN, "95%")


def test_projected_to_exceed_is_announced_once_with_its_date():
    day_20 = DECEMBER.start + timedelta(days=20)  # $70 by day 20: $100 on day 28.6

    decision = decided(BUDGET, 70.0, DECEMBER, day_20)

    assert (decision.step, decision.level, decision.announced) == (
        Step.OPEN,
        PROJECTED,
        (PROJECTED,),
    )
    assert decision.projected is not None
    assert decision.projected.date().isoformat() == "2026-12-29"
    held = Open(DECEMBER.start, decision.announced)
    assert decide(BUDGET, 72.0, DECEMBER, day_20, decision.announced, held) is None
    then = decided(BUDGET, 85.0, DECEMBER, day_20, decision.announced, held)
    assert (then.level, then.announced) == ("85%", (PROJECTED, "85%"))  # fmt: skip


def test_a_calendar_incident_resolves_when_its_period_is_over():
    january = period_at("month", "UTC", utc(2027, 1, 1, 0, 0, 5), 0)
    held = Open(DECEMBER.start, ("85%", "95%", "100%"))

    assert decide(BUDGET, 0.0, january, utc(2027, 1, 1, 0, 0, 5), (), held) == decide(
        BUDGET, 500.0, january, utc(2027, 1, 1, 0, 0, 5), (), held
    )
    assert decided(BUDGET, 0.0, january, utc(2027, 1, 1, 0, 0, 5), (), held).step == Step.RESOLVE
    # Within the period, however the spend moves (a refund), it stays open.
    assert decide(BUDGET, 10.0, DECEMBER, NOW, (), held) is None


def test_a_rolling_window_s_incident_resolves_once_below_the_first_level():
    rolling = period_at("rolling", "UTC", NOW, 86400)
    held = Open(rolling.start - timedelta(hours=1), ("85%",))

    assert decide(BUDGET, 86.0, rolling, NOW, (), held) is None
    assert decided(BUDGET, 84.0, rolling, NOW, (), held).step == Step.RESOLVE
