"""Failures: X failed requests within Y seconds (LiteLLM's PagerDuty `llm_exceptions`)."""

from __future__ import annotations

from policies.kinds.base import CountLike, Defaults, Kind, Measure, PolicyLike


class Failures(Kind):
    def describe(self, policy: PolicyLike) -> str:
        return f"{policy.threshold} failures within {policy.window_seconds} s"

    def describe_count(self, policy: PolicyLike, count: CountLike) -> str:
        return f"{count.matched} failed requests"


KIND = Failures(
    name="failures",
    noun="failures",
    label="Failures: X failed requests within Y seconds",
    measure=Measure.FAILED,
    # LiteLLM's PagerDuty alerting: 60 failures in 60 s.
    defaults=Defaults(threshold=60, window_seconds=60),
    unit="failed requests",
    litellm_alert_types=("llm_exceptions",),
)
