"""Failure rate: at least R% of a window's finished requests failed, of at least N."""

from __future__ import annotations

from policies.kinds.base import CountLike, Defaults, Kind, Measure, PolicyLike


class FailureRate(Kind):
    def describe(self, policy: PolicyLike) -> str:
        return (
            f">= {policy.failure_rate_percent:g}% failed within {policy.window_seconds} s "
            f"(of at least {policy.min_requests} requests)"
        )

    def describe_count(self, policy: PolicyLike, count: CountLike) -> str:
        return f"{count.share:.0%} of {count.total} requests failed"


KIND = FailureRate(
    name="failure_rate",
    noun="failure-rate",
    label="Failure rate: at least R% of requests failed within Y seconds",
    measure=Measure.FAILED_SHARE,
    defaults=Defaults(threshold=1, window_seconds=300),
    unit="% failed",
    litellm_alert_types=("llm_exceptions",),
    needs={"failure_rate_percent": "A failure-rate policy needs R: the share that pages."},
    critical_field="critical_failure_rate_percent",
    uses_min_requests=True,
)
