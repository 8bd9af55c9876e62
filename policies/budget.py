"""Budgets, decided: the period a spend is counted over, the levels it reached, the date it will
reach the budget at its pace, and what to announce. Pure (no database, no clock of its own):
tests/test_budget.py walks every branch.

- A **period** is a calendar day, week (from Monday) or month in the policy's time zone, or a
  rolling window of Y seconds. A calendar period starts at local midnight, which is a whole
  minute in UTC in every zone in use, so the request counts answer it exactly.
- The **levels** are the warning percentages (85 % and 95 % by default, as LiteLLM) and the
  budget itself (100 %, critical), and, for a calendar period, **projected**: the spend so far,
  extrapolated at its pace since the period began, reaches the budget before the period ends.
  A projection is made only once a quarter of the period has passed: at its start, one
  request's cost extrapolates to anything.
- **Each level is announced once per period**: an incident opens at the first level reached and
  is updated at each new one; its levels are remembered with it, so neither another
  evaluation, nor another replica, nor a restart announces one twice. A calendar period's
  incident resolves when the period is over; a rolling window's, once the spend is below the
  first level.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PERIODS = ("day", "week", "month", "rolling")
PROJECTED = "projected"
BUDGET_LEVEL = "100%"
# The part of a period that must have passed before its spend is extrapolated.
PROJECTION_AFTER = 0.25


@dataclass(frozen=True)
class Period:
    start: datetime  # UTC, a whole minute for a calendar period
    end: datetime | None  # None: a rolling window, which never ends
    name: str  # "day", "week", "month" or "rolling"


def period_at(name: str, time_zone: str, now: datetime, window_seconds: int) -> Period:
    """The period `now` lies in."""
    if name == "rolling":
        return Period((now - timedelta(seconds=window_seconds)).replace(microsecond=0), None, name)
    zone = ZoneInfo(time_zone)
    today = now.astimezone(zone).date()
    if name == "day":
        first, following = today, today + timedelta(days=1)
    elif name == "week":
        first = today - timedelta(days=today.weekday())
        following = first + timedelta(days=7)
    elif name == "month":
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
    else:
        raise ValueError(f"unknown budget period {name!r}; known: {', '.join(PERIODS)}")
    return Period(_midnight(first, zone), _midnight(following, zone), name)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    # Where a zone skips midnight (a change of offset at 00:00), the day starts at the offset
    # before the change, as the clock on the wall is read. Seconds only in old local mean times.
    return datetime.combine(day, time(), zone).astimezone(UTC).replace(second=0)


def check_time_zone(name: str) -> str | None:
    """Why `name` is not a time zone (IANA's: "Europe/Paris"); None if it is one."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not a time zone: use IANA's names, like Europe/Paris or UTC."
    return None


def parse_percents(text: str) -> tuple[int, ...]:
    """ "85, 95" as (85, 95): whole percentages from 1 to 99, each above the one before.
    ValueError says what is wrong."""
    parts = [part.strip().rstrip("%").strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError("Give at least one warning level, as percentages: 85, 95.")
    values = []
    for part in parts:
        if not part.isdigit() or not 1 <= int(part) <= 99:
            raise ValueError(
                f"{part!r} is not a percentage from 1 to 99 (the budget itself, 100 %, is "
                "always a level)."
            )
        values.append(int(part))
    if values != sorted(set(values)):
        raise ValueError("The warning levels must go up: 85, 95.")
    return tuple(values)


@dataclass(frozen=True)
class Budget:
    amount: float  # USD or tokens
    warnings: tuple[int, ...]  # percentages below 100

    def share(self, spend: float) -> float:
        """The percentage of the budget spent, to 9 decimals: 85 % of $0.0001 is reached by
        $0.000085, however floats round the product."""
        return round(spend * 100 / self.amount, 9) if self.amount > 0 else 0.0

    def reached(self, spend: float) -> list[str]:
        """The percentage levels the spend reached."""
        percents = (*self.warnings, 100)
        return [f"{p}%" for p in percents if self.share(spend) >= p]

    def percent(self, spend: float) -> int:
        """The whole percentage of the budget spent (rounded down)."""
        return math.floor(self.share(spend))


def projected_date(budget: Budget, spend: float, period: Period, now: datetime) -> datetime | None:
    """When the spend reaches the budget at its pace since the period began, if that is before
    the period ends; None for a rolling window, before PROJECTION_AFTER of the period, with
    nothing spent, or once the budget is reached."""
    if period.end is None or spend <= 0 or spend >= budget.amount:
        return None
    elapsed = now - period.start
    if elapsed < (period.end - period.start) * PROJECTION_AFTER:
        return None
    at = period.start + elapsed * (budget.amount / spend)
    return at if at < period.end else None


def _rank(level: str) -> int:
    """Levels lowest first: projected, then the percentages (those of an earlier edit of the
    policy among them)."""
    return 0 if level == PROJECTED else int(level.rstrip("%"))


class Step(enum.StrEnum):
    OPEN = "open"  # the first level of the period (or of the rolling window's episode)
    RAISE = "raise"  # a new level: announced on the open incident
    RESOLVE = "resolve"  # the period is over (rolling: the spend is below the first level)


@dataclass(frozen=True)
class Open:
    """What is remembered of a group's open budget incident."""

    period_start: datetime
    announced: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    step: Step
    level: str = ""  # the level announced (the highest new one)
    announced: tuple[str, ...] = ()  # every level announced in the period, after this
    projected: datetime | None = None

    @property
    def critical(self) -> bool:
        return BUDGET_LEVEL in self.announced


def decide(
    budget: Budget,
    spend: float,
    period: Period,
    now: datetime,
    announced: tuple[str, ...] = (),
    open_incident: Open | None = None,
) -> Decision | None:
    """What to do for one group: `announced` are the levels already announced in this period
    (by any of its incidents, open or resolved), `open_incident` its open incident, if any."""
    if open_incident is not None:
        if period.end is not None and open_incident.period_start != period.start:
            return Decision(Step.RESOLVE)
        if period.end is None and not budget.reached(spend):
            return Decision(Step.RESOLVE)
        announced = tuple(dict.fromkeys((*announced, *open_incident.announced)))
    projected = projected_date(budget, spend, period, now)
    new = [level for level in budget.reached(spend) if level not in announced]
    if projected is not None and PROJECTED not in announced:
        new.insert(0, PROJECTED)
    if not new:
        return None
    now_announced = tuple(sorted({*announced, *new}, key=_rank))
    step = Step.OPEN if open_incident is None else Step.RAISE
    return Decision(step, new[-1], now_announced, projected)
