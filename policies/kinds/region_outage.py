"""Region outage: failures of a provider's region (LiteLLM's `region_outage_alerts`), counted
only while more than one deployment in it fails, with LiteLLM's minor and major thresholds as
the warning and critical levels.

A region is the gateway's `region_name`, or the region found in a deployment's API base for
Azure, Bedrock and Vertex hosts (ingest/regions.py); groups are "provider/region", since
two providers' "us-east-1" are not one outage. Counted as a deployment outage is: upstream
failures only (a client's 400 never counts), of requests that reached a deployment. One
failing deployment is that deployment's outage, not its region's.
"""

from __future__ import annotations

from policies.kinds.base import CountLike, Defaults, Kind, Measure, PolicyLike


class RegionOutage(Kind):
    def describe(self, policy: PolicyLike) -> str:
        return (
            f"{policy.threshold} upstream failures in a region, of more than one deployment, "
            f"within {policy.window_seconds} s"
        )

    def describe_count(self, policy: PolicyLike, count: CountLike) -> str:
        return f"{count.matched} upstream failures of {count.deployments} deployments"


KIND = RegionOutage(
    name="region_outage",
    noun="region outage",
    label="Region outage: X upstream failures in one region, of more than one deployment, "
    "within Y seconds",
    measure=Measure.FAILED,
    # LiteLLM: minor 5, major 10, within region_outage_alert_ttl (60 s).
    defaults=Defaults(
        threshold=5, window_seconds=60, critical_threshold=10, group_by="region",
        severity="warning",
    ),
    unit="upstream failures",
    litellm_alert_types=("region_outage_alerts",),
    litellm_settings={
        "threshold": "minor_outage_alert_threshold",
        "critical_threshold": "major_outage_alert_threshold",
        "window_seconds": "region_outage_alert_ttl",
    },
    failure_choice=False,
    group_by=("region",),
    filters=(("region <> ''", ()), ("deployment_id <> ''", ())),
    min_failing_deployments=2,
)  # fmt: skip
