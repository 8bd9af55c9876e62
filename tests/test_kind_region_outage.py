"""The region outage kind (LiteLLM's region_outage_alerts): upstream failures per provider and
region, counted only while more than one deployment there fails; LiteLLM's minor and major
thresholds as the warning and critical levels."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from policies import kinds
from policies.counting import count_all, count_rows
from policies.engine import rule_for
from policies.evaluation import Action, Count, GroupState, evaluate
from policies.models import AlertPolicy, Incident
from tests.engine_helpers import T0, add_requests, drain, later
from tests.engine_helpers import evaluate as evaluate_at

KIND = kinds.get("region_outage")
EAST = {"provider": "azure", "region": "eastus"}


def region_policy(**fields):
    values = {
        "name": "Regions", "kind": "region_outage", "threshold": 5, "critical_threshold": 10,
        "window_seconds": 60, "group_by": "region", "severity": "warning",
        "resolve_hold_seconds": 0, **fields,
    }  # fmt: skip
    return AlertPolicy(**values)


def test_its_defaults_are_litellms():
    defaults = KIND.defaults
    assert (defaults.threshold, defaults.critical_threshold, defaults.window_seconds) == (5, 10, 60)
    assert (defaults.group_by, defaults.severity) == ("region", "warning")
    assert KIND.litellm_alert_types == ("region_outage_alerts",)
    assert KIND.min_failing_deployments == 2


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"group_by": "deployment"}, "group_by", "A region outage policy is evaluated per region."),
        (
            {"count_client_errors": True},
            "count_client_errors",
            "A region outage policy counts upstream failures only; leave it off.",
        ),
    ],
)
def test_it_is_evaluated_per_region_on_upstream_failures_only(fields, field, message):
    with pytest.raises(ValidationError) as raised:
        region_policy(**fields).clean()

    assert raised.value.message_dict == {field: [message]}


def test_it_describes_its_rule_and_count():
    policy = region_policy()
    assert policy.describe() == (
        "5 upstream failures in a region, of more than one deployment, within 60 s, critical at 10"
    )
    assert KIND.describe_count(policy, Count(7, 7, 2)) == "7 upstream failures of 2 deployments"


@pytest.mark.parametrize(
    ("count", "breached", "critical"),
    [
        (Count(50, 50, 1), False, False),  # one deployment down: its outage, not the region's
        (Count(4, 4, 2), False, False),
        (Count(5, 5, 2), True, False),
        (Count(10, 10, 3), True, True),
        (Count(10, 10, 1), False, False),
    ],
)
def test_it_breaches_only_while_more_than_one_deployment_fails(count, breached, critical):
    rule = rule_for(region_policy())

    assert (rule.breached(count), rule.critical_reached(count)) == (breached, critical)


def test_an_open_region_outage_clears_once_only_one_deployment_still_fails():
    rule = rule_for(region_policy())
    states = {"azure/eastus": GroupState(open=True, peak=12, last_paged_at=T0)}

    _, decisions = evaluate(rule, {"azure/eastus": Count(40, 40, 1)}, states, later(5))

    assert [d.action for d in decisions] == [Action.RESOLVE]


def failures_of(deployment, n, seconds=-1, **fields):
    add_requests(n, at=later(seconds), deployment_id=deployment, **{**EAST, **fields})


@pytest.mark.django_db
def test_it_counts_upstream_failures_and_failing_deployments_per_provider_and_region():
    policy = region_policy()
    policy.save()
    failures_of("dep-1", 3)
    failures_of("dep-2", 2, error_class="Timeout", status_code=408)
    failures_of("dep-2", 4, failure_class="client", status_code=400)  # a bad request
    failures_of("dep-3", 4, failure_class="gateway", status_code=401)  # a bad key
    failures_of("dep-4", 2, provider="openai")  # another provider's eastus
    failures_of("dep-5", 1, region="westus")
    failures_of("", 9)  # refused before a deployment was chosen
    failures_of("dep-6", 7, region="")  # no region known
    add_requests(6, at=later(-1), outcome="success", deployment_id="dep-3", **EAST)

    expected = {
        "azure/eastus": Count(5, 5, 2),
        "openai/eastus": Count(2, 2, 1),
        "azure/westus": Count(1, 1, 1),
    }
    for count in (count_all, count_rows):  # from the request counts, and from the rows
        assert count([policy], T0)[policy.pk] == expected


@pytest.mark.django_db
def test_from_minor_to_major_to_resolved_naming_the_failing_deployments(
    make_route, make_channel, pagerduty
):
    make_route(make_channel(name="On-call"), scope="default")
    policy = region_policy()
    policy.full_clean()
    policy.save()
    failures_of("dep-a", 20)  # one deployment alone: not yet a region outage

    evaluate_at(policy, T0)
    assert not Incident.objects.exists()

    failures_of("dep-b", 1, seconds=4)  # a second one fails: 21 failures of 2 deployments
    evaluate_at(policy, later(5))
    drain(later(5))
    evaluate_at(policy, later(75))  # everything out of the window
    drain(later(75))

    incident = Incident.objects.get()
    assert (incident.group_key, incident.status) == ("azure/eastus", "resolved")
    assert incident.summary == (
        "Regions: 21 upstream failures of 2 deployments in 60 s in region azure/eastus"
    )
    sent = [(e["event_action"], e.get("payload", {}).get("severity")) for e in pagerduty.events]
    # Opened critical at once: 21 failures is over the major threshold.
    assert sent == [("trigger", "critical"), ("resolve", None)]
    details = pagerduty.events[0]["payload"]["custom_details"]
    assert details["failing_deployments"] == [
        {"deployment_id": "dep-a", "count": 20},
        {"deployment_id": "dep-b", "count": 1},
    ]
    assert incident.detected_at - incident.started_at <= timedelta(seconds=5)
