"""Deciding, from the counts of one evaluation, what happens to each group's incident.

A pure function of (rule, counts, state, now): no database, no clock of its own, so every
transition is tested directly (tests/test_evaluation.py). The transitions, per group:

- no incident: a breach adds one to the group's streak; the incident opens once the streak
  reaches the policy's `consecutive_breaches` (Prometheus' "for"); a clear evaluation resets it;
- open incident: a new peak is recorded; the incident resolves once the count has stayed
  below the resolve threshold for `resolve_hold_seconds` (a breach in between restarts the
  wait); while it stays open, it is paged again every `renotify_seconds`, if set.
- two levels: a policy with a critical level opens its incident at the first level the count
  reaches; it escalates once the count reaches the critical level, and falls back once the
  count has stayed below it for `resolve_hold_seconds` (so that a count hovering at the level
  does not page at every evaluation). The resolve rules belong to the first level.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Rule:
    """What evaluation needs to know of a policy."""

    threshold: int
    consecutive_breaches: int = 1
    # Open incidents resolve once the count is below this (default: the threshold).
    resolve_below: int | None = None
    resolve_hold_seconds: float = 0
    renotify_seconds: float | None = None
    # failure_rate policies: breach when matched/total >= rate and total >= min_requests.
    rate: float | None = None
    min_requests: int = 0
    # The critical level, if the policy has two: a count (or, with `rate`, a share).
    critical: float | None = None
    # latency percentile policies (0 to 1): breach when the percentile of the total is above
    # T, that is when more than total - ceil(percentile * total) of them were slower than T.
    percentile: float | None = None
    # Region outages: a group breaches (at either level) only while at least this many of its
    # deployments have counted failures.
    min_deployments: int = 0
    # Too little traffic: breach while an expected group's count is below the threshold (the
    # count's total is the group's recent traffic; counting gives none to groups it does not
    # expect).
    below: bool = False

    def breached(self, count: Count) -> bool:
        if self.below:
            return count.total > 0 and count.matched < self.threshold
        if self.percentile is not None:
            within = math.ceil(round(self.percentile * count.total, 9))
            return self._enough(count) and count.matched > count.total - within
        if self.rate is not None:
            return self._enough(count) and count.share >= self.rate
        return count.matched >= self.threshold and self._spread(count)

    def critical_reached(self, count: Count) -> bool:
        if self.critical is None:
            return False
        if self.percentile is not None:  # the critical T's count, by the same rank
            within = math.ceil(round(self.percentile * count.total, 9))
            return self._enough(count) and count.critical_matched > count.total - within
        if self.below:
            return count.total > 0 and count.matched < self.critical
        if self.rate is not None:
            return self._enough(count) and count.share >= self.critical
        return count.matched >= self.critical and self._spread(count)

    def worse(self, matched: int, than: int) -> bool:
        """Whether a count is a new peak: higher, or (too little traffic) lower."""
        return matched < than if self.below else matched > than

    def _spread(self, count: Count) -> bool:
        return count.deployments >= self.min_deployments

    def _enough(self, count: Count) -> bool:
        return count.total >= max(1, self.min_requests)

    def clear(self, count: Count) -> bool:
        if self.rate is not None or self.percentile is not None or self.below:
            return not self.breached(count)
        below = self.threshold if self.resolve_below is None else self.resolve_below
        return count.matched < below or not self._spread(count)


@dataclass(frozen=True)
class Count:
    matched: int  # failures, hung or slow requests in the window
    total: int = 0  # all finished requests in the window (failure_rate only)
    deployments: int = 0  # region outages: the deployments with counted failures
    critical_matched: int = 0  # latency percentiles: the requests slower than the critical T

    @property
    def share(self) -> float:
        return self.matched / self.total if self.total else 0.0


ZERO = Count(0, 0)


@dataclass(frozen=True)
class GroupState:
    """What is remembered of a group between evaluations."""

    streak: int = 0  # consecutive breaching evaluations while no incident is open
    open: bool = False
    peak: int = 0
    clear_since: datetime | None = None
    last_paged_at: datetime | None = None
    critical: bool = False  # at the critical level
    calm_since: datetime | None = None  # critical, but below the critical level since


class Action(enum.StrEnum):
    PENDING = "pending"  # breaching, but not yet for long enough
    OPEN = "open"
    ESCALATE = "escalate"  # open, and the critical level reached
    DEESCALATE = "deescalate"  # back to the first level
    PEAK = "peak"  # open, with a new highest count
    RENOTIFY = "renotify"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class Decision:
    group: str
    action: Action
    count: Count
    state: GroupState  # the group's state after this evaluation


def evaluate(
    rule: Rule, counts: Mapping[str, Count], states: Mapping[str, GroupState], now: datetime
) -> tuple[dict[str, GroupState], list[Decision]]:
    """The new state of every group that needs one, and what to do about each."""
    new_states: dict[str, GroupState] = {}
    decisions: list[Decision] = []
    for group in sorted(set(counts) | set(states)):
        count = counts.get(group, ZERO)
        state = states.get(group, GroupState())
        action, state = _step(rule, count, state, now)
        if state != GroupState():
            new_states[group] = state
        if action is not None:
            decisions.append(Decision(group, action, count, state))
    return new_states, decisions


def _step(
    rule: Rule, count: Count, state: GroupState, now: datetime
) -> tuple[Action | None, GroupState]:
    if not state.open:
        if not rule.breached(count):
            return None, GroupState()
        streak = state.streak + 1
        if streak < rule.consecutive_breaches:
            return Action.PENDING, replace(state, streak=streak)
        critical = rule.critical_reached(count)
        return Action.OPEN, GroupState(
            open=True, peak=count.matched, last_paged_at=now, critical=critical
        )

    hold = timedelta(seconds=rule.resolve_hold_seconds)
    if rule.clear(count):
        clear_since = state.clear_since or now
        if now - clear_since >= hold:
            return Action.RESOLVE, GroupState()
        return None, replace(state, clear_since=clear_since)

    state = replace(state, clear_since=None)
    if rule.critical_reached(count):
        peak = count.matched if rule.worse(count.matched, state.peak) else state.peak
        if not state.critical:
            return Action.ESCALATE, replace(state, critical=True, calm_since=None, peak=peak)
        state = replace(state, calm_since=None)
    elif state.critical:
        calm_since = state.calm_since or now
        if now - calm_since >= hold:
            return Action.DEESCALATE, replace(state, critical=False, calm_since=None)
        state = replace(state, calm_since=calm_since)
    if rule.worse(count.matched, state.peak):
        return Action.PEAK, replace(state, peak=count.matched)
    if (
        rule.renotify_seconds is not None
        and state.last_paged_at is not None
        and now - state.last_paged_at >= timedelta(seconds=rule.renotify_seconds)
    ):
        return Action.RENOTIFY, replace(state, last_paged_at=now)
    return None, state
