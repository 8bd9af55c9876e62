"""What an alert kind is: everything the console needs to know of one, declared in one place
(one module per kind in this package, registered in ``policies.kinds``).

A kind says what it measures and over which requests, which of a policy's parameters it uses
and how they are checked, its defaults (LiteLLM's where it has one), how it reads in a page's
summary and on the incident's page, and how LiteLLM's ``alert_types`` name it. Nothing here
imports the models: a kind reads a policy through the attributes it names.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from ingest import latency


class Measure(enum.Enum):
    """What a kind counts in each group's window."""

    FAILED = "failed"  # failed finished requests
    FAILED_SHARE = "failed_share"  # failed out of finished requests
    SLOW = "slow"  # finished requests slower than T
    HUNG = "hung"  # requests that passed T unfinished
    PERCENTILE = "percentile"  # finished requests slower than T, out of all finished
    SPEND = "spend"  # the cost or tokens of the finished requests (budgets)
    SUCCEEDED = "succeeded"  # successful requests, for groups expected to have some


class PolicyLike(Protocol):
    kind: str
    threshold: int
    critical_threshold: int | None
    critical_failure_rate_percent: float | None
    critical_duration_seconds: float | None
    window_seconds: int  # None in a form that left it empty
    duration_seconds: float | None
    failure_rate_percent: float | None
    percentile: int | None
    min_requests: int
    group_by: str
    budget_unit: str
    budget_period: str
    budget_time_zone: str
    budget_warning_percents: str
    count_gateway_rejections: bool
    count_client_errors: bool

    @property
    def budget(self) -> Decimal | None: ...


class CountLike(Protocol):
    @property
    def matched(self) -> int: ...

    @property
    def total(self) -> int: ...

    @property
    def share(self) -> float: ...

    @property
    def deployments(self) -> int: ...

    @property
    def critical_matched(self) -> int: ...


@dataclass(frozen=True)
class Defaults:
    threshold: int
    window_seconds: int
    duration_seconds: float | None = None
    critical_threshold: int | None = None
    group_by: str = "everything"
    severity: str = "critical"  # of the first level: below critical where there are two
    # The defaults of the fields only this kind uses.
    parameters: tuple[tuple[str, object], ...] = ()


# How people call the parameters kinds need, in messages.
PARAMETER_NAMES = {
    "duration_seconds": "T",
    "failure_rate_percent": "R",
    "critical_threshold": "a critical threshold",
    "critical_failure_rate_percent": "a critical rate",
    "critical_duration_seconds": "a critical T",
    "percentile": "a percentile",
    "budget": "a budget",
    "budget_unit": "a budget's unit",
    "budget_period": "a budget's period",
    "budget_time_zone": "a time zone",
    "budget_warning_percents": "warning levels",
}


@dataclass(frozen=True)
class Kind:
    name: str  # as stored, in apply_config files and in routes
    noun: str  # in sentences: "a hung policy"
    label: str  # the admin's choice
    measure: Measure
    defaults: Defaults
    unit: str  # the incident page's axis: "failed requests"
    # LiteLLM's alert_types that stand for this kind (routes, the LiteLLM import).
    litellm_alert_types: tuple[str, ...] = ()
    # LiteLLM's setting for each policy field it sets in LiteLLM's chat alerting (Slack, Teams):
    # the LiteLLM import reads these names from general_settings.alerting_args, or
    # general_settings for alerting_threshold. (The two policies of its PagerDuty alerting,
    # failures and hanging, keep their own settings in policies/config/litellm.py.)
    litellm_settings: dict[str, str] = field(default_factory=dict)
    # Parameters of a policy this kind needs (and no other kind may be given): the field,
    # and the sentence telling what it is for when it is missing.
    needs: dict[str, str] = field(default_factory=dict)
    # Parameters it may be given and does without (no other kind may be given them).
    accepts: tuple[str, ...] = ()
    # The field of its critical level (policies may have a warning and a critical level);
    # "" for a kind without one yet.
    critical_field: str = "critical_threshold"
    # Whether a group needs min_requests finished requests to be judged (shares, percentiles).
    uses_min_requests: bool = False
    # Whether a policy chooses which failures count (gateway rejections, client errors);
    # else only upstream failures do.
    failure_choice: bool = True
    # What its policies may be evaluated per (GroupBy values); empty: anything.
    group_by: tuple[str, ...] = ()
    # Conditions on the requests it counts, whatever the policy's filters (SQL on request
    # rows and request counts alike, and their parameters).
    filters: tuple[tuple[str, tuple[object, ...]], ...] = ()
    # A group breaches only while at least this many of its deployments have failures it
    # counts (region outages: more than one); 0 for kinds that do not count deployments.
    min_failing_deployments: int = 0
    # Whether its policies set the threshold X (budgets keep their first level there).
    uses_threshold: bool = True
    # Whether it pages when the count falls below X (too little traffic), not when it
    # reaches X.
    below: bool = False
    # The longest window Y its policies may have: the request counts' seconds and minutes
    # answer a week exactly (a rolling budget, a month).
    max_window_seconds: int = 7 * 86400
    # What its T is a duration of (slow, hung and percentile kinds): the latency, or the time
    # to first token. T is one of the histogram's edges, whose slower requests the counts keep.
    histogram: latency.Histogram = latency.LATENCY

    @property
    def counts_failures(self) -> bool:
        """Whether it chooses which failure classes count (gateway rejections, client errors)."""
        return self.failure_choice and self.measure in (Measure.FAILED, Measure.FAILED_SHARE)

    @property
    def parameters(self) -> tuple[str, ...]:
        """The fields only some kinds use that this one does: what it needs, its critical
        level."""
        return (
            *self.needs,
            *self.accepts,
            *([self.critical_field] if self.critical_field else []),
        )

    @property
    def counts_slower(self) -> bool:
        """Whether it counts finished requests slower than T (the latency edge it reads)."""
        return self.measure in (Measure.SLOW, Measure.PERCENTILE)

    @property
    def out_of_finished(self) -> bool:
        """Whether its count is a share of the window's finished requests (their number is
        its total)."""
        return self.measure in (Measure.FAILED_SHARE, Measure.PERCENTILE)

    @property
    def uses_duration(self) -> bool:
        return "duration_seconds" in self.needs

    @property
    def reads_finished(self) -> bool:
        """Whether it reads finished requests by when they finished (else, by their start)."""
        return self.measure is not Measure.HUNG

    @property
    def charted(self) -> bool:
        """Whether an incident's page draws its count over time (count_history)."""
        return self.measure not in (Measure.SPEND, Measure.SUCCEEDED)

    @property
    def counts_requests(self) -> bool:
        """Whether it counts requests (else it sums what they spent: budgets)."""
        return self.measure is not Measure.SPEND

    def describe(self, policy: PolicyLike) -> str:
        """Its rule in one line: "60 failures within 60 s"."""
        raise NotImplementedError

    def describe_count(self, policy: PolicyLike, count: CountLike) -> str:
        """A group's count in a page's summary: "12 failed requests"."""
        raise NotImplementedError

    def problems(self, policy: PolicyLike, kinds: dict[str, Kind]) -> dict[str, str]:
        """The fields this policy gets wrong for this kind: what it needs and lacks, and what
        other kinds need that it was given."""
        found: dict[str, str] = {}
        if policy.window_seconds is not None and policy.window_seconds > self.max_window_seconds:
            days = self.max_window_seconds // 86400
            found["window_seconds"] = (
                f"The window can be at most {days} days ({self.max_window_seconds} s)."
            )
        if self.group_by and policy.group_by not in self.group_by:
            found["group_by"] = (
                f"A {self.noun} policy is evaluated per {_listed(list(self.group_by))}."
            )
        failures = self.measure in (Measure.FAILED, Measure.FAILED_SHARE)
        if (
            failures
            and not self.failure_choice
            and (policy.count_gateway_rejections or policy.count_client_errors)
        ):
            found[
                "count_client_errors" if policy.count_client_errors else "count_gateway_rejections"
            ] = f"A {self.noun} policy counts upstream failures only; leave it off."
        for name, why in self.needs.items():
            if not _given(getattr(policy, name)):
                found[name] = why
        # The fields' own validation keeps T to a latency edge (which says so once); a
        # first-token T, to fewer.
        edges = self.histogram.edges
        own_edges = self.histogram is not latency.LATENCY
        for name in ("duration_seconds", "critical_duration_seconds"):
            value = getattr(policy, name)
            if own_edges and name in self.parameters and _given(value) and value not in edges:
                found[name] = (
                    f"A {self.noun} policy's T is one of the durations the request counts "
                    f"keep for it: {', '.join(f'{edge:g}' for edge in edges)} s."
                )
        mine = self.parameters
        for other in kinds.values():
            for name in other.parameters:
                if name not in mine and _given(getattr(policy, name)):
                    users = _listed([k.noun for k in kinds.values() if name in k.parameters])
                    parameter = PARAMETER_NAMES.get(name, name)
                    found[name] = f"Only {users} policies use {parameter}; leave it empty."
        return found


def _given(value: object) -> bool:
    """Whether a parameter was given: not None, nor an empty text."""
    return value is not None and value != ""


def _listed(words: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


@dataclass(frozen=True)
class DurationKind(Kind):
    """A kind counting requests that passed T seconds (hung, slow)."""

    count_words: str = ""  # "requests slower than": the count, these words, T

    def describe(self, policy: PolicyLike) -> str:
        return (
            f"{policy.threshold} {self.noun} (> {policy.duration_seconds:g} s) "
            f"within {policy.window_seconds} s"
        )

    def describe_count(self, policy: PolicyLike, count: CountLike) -> str:
        return f"{count.matched} {self.count_words} {policy.duration_seconds or 0:g} s"


@dataclass(frozen=True)
class PercentileKind(Kind):
    """A kind paging when a percentile of a duration (the latency, the time to first token) is
    above T: decided on the counts of requests slower than T (policies/evaluation.py)."""

    of: str = "latency"  # the rule's words: "p95 latency above 5 s"
    count_of: str = ""  # the count's: "p95 first token above 5 s"
    population: str = "requests"  # "2 of 11 requests slower"

    def describe(self, policy: PolicyLike) -> str:
        return (
            f"p{policy.percentile} {self.of} above {policy.duration_seconds:g} s within "
            f"{policy.window_seconds} s (of at least {policy.min_requests} requests)"
        )

    def describe_count(self, policy: PolicyLike, count: CountLike) -> str:
        words = (
            f"p{policy.percentile}{self.count_of} above {policy.duration_seconds or 0:g} s: "
            f"{count.matched} of {count.total} {self.population} slower"
        )
        if policy.critical_duration_seconds is not None:
            words += (
                f", {count.critical_matched} slower than {policy.critical_duration_seconds:g} s"
            )
        return words
