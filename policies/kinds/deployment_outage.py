"""Deployment outage: failures of one deployment of a model (LiteLLM's `outage_alerts`), a
minor and a major threshold within a window, as the warning and critical levels.

Only upstream failures count (5xx, timeouts, connection errors, a vendor's 429): a client's
400 never does, nor a request the gateway refused itself. LiteLLM counts 408 and 5xx only;
a deployment its vendor rate-limits is not serving either, so a 429 counts here. Requests
without a deployment (the gateway refused them before choosing one) are not counted.
"""

from __future__ import annotations

from policies.kinds.base import CountLike, Defaults, Kind, Measure, PolicyLike


class DeploymentOutage(Kind):
    def describe(self, policy: PolicyLike) -> str:
        return (
            f"{policy.threshold} upstream failures of a deployment within {policy.window_seconds} s"
        )

    def describe_count(self, policy: PolicyLike, count: CountLike) -> str:
        return f"{count.matched} upstream failures"


KIND = DeploymentOutage(
    name="deployment_outage",
    noun="deployment outage",
    label="Deployment outage: X upstream failures of one deployment within Y seconds",
    measure=Measure.FAILED,
    # LiteLLM: minor 5, major 10, within outage_alert_ttl (60 s).
    defaults=Defaults(
        threshold=5, window_seconds=60, critical_threshold=10, group_by="deployment",
        severity="warning",
    ),
    unit="upstream failures",
    litellm_alert_types=("outage_alerts",),
    litellm_settings={
        "threshold": "minor_outage_alert_threshold",
        "critical_threshold": "major_outage_alert_threshold",
        "window_seconds": "outage_alert_ttl",
    },
    failure_choice=False,
    group_by=("deployment",),
    filters=(("deployment_id <> ''", ()),),
)  # fmt: skip
