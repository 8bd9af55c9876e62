"""Hung: X requests unfinished after T seconds, within Y seconds (LiteLLM's
`llm_requests_hanging`)."""

from __future__ import annotations

from policies.kinds.base import CountLike, Defaults, Kind, Measure, PolicyLike


class Hung(Kind):
    def describe(self, policy: PolicyLike) -> str:
        return (
            f"{policy.threshold} hung (> {policy.duration_seconds:g} s) "
            f"within {policy.window_seconds} s"
        )

    def describe_count(self, policy: PolicyLike, count: CountLike) -> str:
        return f"{count.matched} requests hung over {policy.duration_seconds or 0:g} s"


KIND = Hung(
    name="hung",
    noun="hung",
    label="Hung: X requests unfinished after T seconds, within Y seconds",
    measure=Measure.HUNG,
    # LiteLLM: 60 requests hung after 60 s, within 600 s.
    defaults=Defaults(threshold=60, window_seconds=600, duration_seconds=60.0),
    unit="hung requests",
    litellm_alert_types=("llm_requests_hanging",),
    needs={"duration_seconds": "A hung policy needs T: after how many seconds a request "
           "counts as hung."},
)  # fmt: skip
