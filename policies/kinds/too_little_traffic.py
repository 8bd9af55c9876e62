"""Too little traffic: fewer than X successful requests within Y seconds, for a group that had
traffic before: "this model silently stopped answering", "this team's integration went quiet".

A group that sends nothing has no rows, so the groups to judge come from the recent past: a
group is expected when it had at least `min_requests` successful requests within the last day
(BASELINE_SECONDS), or when the policy is evaluated for everything (the whole gateway, or what
its filters name: a team, a key alias, a model), which is always expected. A group quiet for a
whole day is no longer expected, and its incident resolves. LiteLLM has no such alert.
"""

from __future__ import annotations

from policies.kinds.base import CountLike, Defaults, Kind, Measure, PolicyLike

BASELINE_SECONDS = 86400


class TooLittleTraffic(Kind):
    def describe(self, policy: PolicyLike) -> str:
        return f"fewer than {policy.threshold} successful requests within {policy.window_seconds} s"

    def describe_count(self, policy: PolicyLike, count: CountLike) -> str:
        return f"{count.matched} successful requests (fewer than {policy.threshold})"


KIND = TooLittleTraffic(
    name="too_little_traffic",
    noun="too little traffic",
    label="Too little traffic: fewer than X successful requests within Y seconds, for a model, "
    "team or key that had traffic",
    measure=Measure.SUCCEEDED,
    # LiteLLM has none: under 1 success in 10 minutes, per model.
    defaults=Defaults(threshold=1, window_seconds=600, group_by="model", severity="warning"),
    unit="successful requests",
    # A critical level below X: fewer than 10 is a warning, none at all (fewer than 1) critical.
    uses_min_requests=True,
    failure_choice=False,
    below=True,
)
