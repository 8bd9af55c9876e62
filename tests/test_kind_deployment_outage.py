"""The deployment outage kind (LiteLLM's outage_alerts): upstream failures per deployment, a
minor and a major threshold as the warning and critical levels; client errors, gateway
rejections and requests without a deployment never count."""

import pytest
from django.core.exceptions import ValidationError

from policies import kinds
from policies.counting import count_all, count_rows
from policies.evaluation import Count
from policies.models import AlertPolicy, Incident
from tests.engine_helpers import T0, add_requests, drain, evaluate, later

KIND = kinds.get("deployment_outage")
API_BASE = "https://my-eastus.openai.azure.com"


def outage_policy(**fields):
    values = {
        "name": "Outages", "kind": "deployment_outage", "threshold": 5,
        "critical_threshold": 10, "window_seconds": 60, "group_by": "deployment",
        "severity": "warning", "resolve_hold_seconds": 0, **fields,
    }  # fmt: skip
    return AlertPolicy(**values)


def test_its_defaults_are_litellms():
    defaults = KIND.defaults
    assert (defaults.threshold, defaults.critical_threshold, defaults.window_seconds) == (5, 10, 60)
    assert (defaults.group_by, defaults.severity) == ("deployment", "warning")
    assert KIND.litellm_alert_types == ("outage_alerts",)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"group_by": "team"},
            "group_by",
            "A deployment outage policy is evaluated per deployment.",
        ),
        (
            {"count_client_errors": True},
            "count_client_errors",
            "A deployment outage policy counts upstream failures only; leave it off.",
        ),
        (
            {"count_gateway_rejections": True},
            "count_gateway_rejections",
            "A deployment outage policy counts upstream failures only; leave it off.",
        ),
    ],
)
def test_it_is_evaluated_per_deployment_on_upstream_failures_only(fields, field, message):
    with pytest.raises(ValidationError) as raised:
        outage_policy(**fields).clean()

    assert raised.value.message_dict == {field: [message]}


def test_it_describes_its_rule_and_count():
    policy = outage_policy()
    assert policy.describe() == ("5 upstream failures of a deployment within 60 s, critical at 10")
    assert KIND.describe_count(policy, Count(7)) == "7 upstream failures"


def failures_of(deployment, n, seconds=-1, **fields):
    add_requests(n, at=later(seconds), deployment_id=deployment, **fields)


@pytest.mark.django_db
def test_it_counts_upstream_failures_per_deployment_and_nothing_else():
    policy = outage_policy()
    policy.save()
    failures_of("dep-1", 3)
    failures_of("dep-1", 2, error_class="Timeout", status_code=408)
    failures_of("dep-1", 4, failure_class="client", status_code=400)  # a bad request
    failures_of("dep-1", 4, failure_class="gateway", status_code=401)  # a bad key
    failures_of("dep-2", 1)
    failures_of("", 9)  # refused before a deployment was chosen
    add_requests(6, at=later(-1), outcome="success", deployment_id="dep-1")

    for count in (count_all, count_rows):  # from the request counts, and from the rows
        assert count([policy], T0)[policy.pk] == {"dep-1": Count(5, 5), "dep-2": Count(1, 1)}


@pytest.mark.django_db
def test_from_minor_to_major_to_resolved_with_the_deployment_s_address(
    make_route, make_channel, pagerduty
):
    make_route(make_channel(name="On-call"), scope="default")
    policy = outage_policy(resolve_hold_seconds=0)
    policy.full_clean()
    policy.save()
    detail = {"provider": "azure", "api_base": f"https://user:pw@{API_BASE[8:]}/?key=k"}
    failures_of("dep-east", 5, **detail)

    evaluate(policy, T0)
    drain(T0)
    failures_of("dep-east", 5, seconds=9, **detail)
    evaluate(policy, later(10))
    drain(later(10))
    evaluate(policy, later(75))  # everything out of the window
    drain(later(75))

    incident = Incident.objects.get()
    assert (incident.group_key, incident.status) == ("dep-east", "resolved")
    assert incident.summary == "Outages: 5 upstream failures in 60 s on deployment dep-east"
    sent = [(e["event_action"], e.get("payload", {}).get("severity")) for e in pagerduty.events]
    assert sent == [("trigger", "warning"), ("trigger", "critical"), ("resolve", None)]
    details = pagerduty.events[0]["payload"]["custom_details"]
    # The deployment's address, without what could be a credential.
    assert (details["busiest_provider"], details["busiest_api_base"]) == ("azure", f"{API_BASE}/")
    assert "pw@" not in str(pagerduty.events)
    assert "key=k" not in str(pagerduty.events)
