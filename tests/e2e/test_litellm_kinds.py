"""The alert kinds LiteLLM's users know, fed by a real, unmodified LiteLLM proxy into a live
console (web, worker and beat processes, a fake PagerDuty): deployments of one model in two
Azure regions fail, and the console opens a deployment outage, then a region outage, with
their severities; a key's spend crosses 85 % of its team's budget, and PagerDuty is paged once.

The three deployments serve one model group, as a gateway balancing a model across regions
does; the test calls each by its deployment id (LiteLLM routes a model id to that deployment)
so that it chooses which one fails, where the router would choose at random.

The proxy's deployments are `mock_response` ones (no network). LiteLLM's payload for a request
that failed this way names its deployment but not its region or API base; the shipped callback
asks the proxy's router, as LiteLLM's own region outage alerts do.
"""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any

import pytest

from ingest.models import GatewayRequest
from policies.models import AlertPolicy, Channel, Incident, Route
from tests.e2e.live import wait_until
from tests.e2e.test_litellm_proxy import chat, proxy_config, running_proxy

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

KEY = "R0AB" + "k" * 24 + "XY12"
TICKS = 3  # evaluations (one a second) that must pass to say "nothing more happened"


def failing(deployment: str, **where: str) -> dict[str, Any]:
    return {
        "model_name": "gpt-4o",
        "litellm_params": {
            "model": "azure/gpt-4o",
            "api_key": "sk-not-a-real-key",
            "api_version": "2024-06-01",
            "mock_response": "litellm.InternalServerError",
            **where,
        },
        "model_info": {"id": deployment},
    }


MODELS = [
    # The region in the API base (Azure's regional endpoint), as the console reads it...
    failing("dep-east-a", api_base="https://eastus.api.cognitive.microsoft.com"),
    # ...or in the deployment's region_name, as LiteLLM's region-based routing sets it.
    failing("dep-east-b", api_base="https://b.openai.azure.com", region_name="eastus"),
    failing("dep-west", api_base="https://w.openai.azure.com", region_name="westus"),
    {"model_name": "mock-ok", "litellm_params": {"mock_response": "hi"}},
]


@pytest.fixture
def proxy(console, litellm_bin, tmp_path):
    config = proxy_config(
        ["alerting_console_callback.handler"],
        MODELS,
        # Every request reaches its deployment: no cooldown of the failing ones.
        router_settings={"num_retries": 0, "disable_cooldowns": True},
    )
    env = {
        "ALERTING_CONSOLE_URL": console["url"],
        "ALERTING_CONSOLE_TOKEN": console["token"],
        "ALERTING_CONSOLE_FLUSH_INTERVAL": "0.2",
    }
    with (
        running_proxy(litellm_bin, tmp_path / "proxy", config, env) as running,
        running.client() as client,
    ):
        yield client


@pytest.fixture
def on_call():
    channel = Channel.objects.create(name="On-call", kind="pagerduty", secret=KEY)
    Route.objects.create(scope=Route.Scope.DEFAULT).channels.add(channel)


def send(client, model: str, n: int, key: str = "sk-search") -> None:
    """`n` requests to `model` (a model group, or one deployment's id); waits for the console
    to store their finishes."""
    where = {"deployment_id": model} if model.startswith("dep-") else {"model_group": model}
    finished = GatewayRequest.objects.filter(finished_at__isnull=False, **where)
    before = finished.count()
    for _ in range(n):
        chat(client, model, key, "hello")
    wait_until(lambda: finished.count() == before + n, 20, f"{n} finishes of {model}")


def incident(group: str) -> Incident | None:
    return Incident.objects.filter(group_key=group).first()


def the_incident(group: str) -> Incident:
    return Incident.objects.get(group_key=group)


def settled() -> None:
    time.sleep(TICKS)


def test_a_deployment_outage_then_a_region_outage_with_their_severities(console, proxy, on_call):
    for kind in ("deployment_outage", "region_outage"):
        policy = AlertPolicy(name=kind, kind=kind, group_by=kind.split("_")[0], severity="warning")
        policy.threshold, policy.critical_threshold = 5, 10  # LiteLLM's minor and major
        policy.full_clean()
        policy.save()

    send(proxy, "dep-east-a", 12)  # one deployment down: its outage, not its region's
    wait_until(
        lambda: getattr(incident("dep-east-a"), "severity", "") == "critical",
        20,
        "a critical outage of dep-east-a",
    )
    settled()
    assert not Incident.objects.filter(policy__kind="region_outage").exists()

    send(proxy, "dep-east-b", 6)  # a second one in eastus: the region is out
    send(proxy, "dep-west", 7)  # westus has one failing deployment only
    wait_until(lambda: incident("azure/eastus") is not None, 20, "the eastus region outage")
    settled()

    rows = GatewayRequest.objects.filter(deployment_id="dep-east-b")
    # LiteLLM reports the name it was called by (here the deployment's id) as the model group.
    assert {(r.provider, r.model_group, r.region) for r in rows} == {
        ("azure", "dep-east-b", "eastus")
    }
    region = the_incident("azure/eastus")
    assert region.severity == "critical"  # 18 failures of 2 deployments, over the major 10
    assert {d["deployment_id"] for d in region.details["failing_deployments"]} == {
        "dep-east-a",
        "dep-east-b",
    }
    assert incident("azure/westus") is None
    assert (the_incident("dep-east-b").severity, the_incident("dep-west").severity) == (
        "warning",
        "warning",
    )
    wait_until(
        lambda: any(e["dedup_key"] == region.dedup_key for e in console["pagerduty"].events),
        30,
        "the region outage's page",
    )
    pages = [e for e in console["pagerduty"].events if e["dedup_key"] == region.dedup_key]
    assert pages[0]["payload"]["severity"] == "critical"
    assert "azure/eastus" in pages[0]["payload"]["summary"]


def test_a_keys_spend_crossing_85_percent_of_its_team_budget_pages_once(console, proxy, on_call):
    send(proxy, "mock-ok", 1)
    cost = GatewayRequest.objects.get(model_group="mock-ok").cost
    assert cost is not None
    assert cost > 0  # LiteLLM's response_cost, as it reports it
    # The smallest budget (in ten-thousandths of a dollar) whose 85 % and 95 % are reached
    # by different requests: requests up to the one crossing 85 % page once, at 85 %.
    budget, crossing = next(
        (Decimal(k) / 10_000, math.ceil(0.85 * k / 10_000 / cost))
        for k in range(1, 1000)
        if 1 < math.ceil(0.85 * k / 10_000 / cost) < math.ceil(0.95 * k / 10_000 / cost)
    )
    policy = AlertPolicy(
        name="Team budgets", kind="budget", group_by="team", budget=budget, budget_unit="usd",
        budget_period="rolling", window_seconds=3600, budget_warning_percents="85, 95",
        severity="warning",
    )  # fmt: skip
    policy.full_clean()
    policy.save()

    send(proxy, "mock-ok", crossing - 2)  # under 85 %
    settled()
    assert not Incident.objects.exists()

    send(proxy, "mock-ok", 1)  # over 85 %, under 95 %
    wait_until(lambda: incident("team-search") is not None, 20, "the budget incident")
    settled()

    found = the_incident("team-search")
    assert (found.severity, found.details["levels_announced"]) == ("warning", ["85%"])
    wait_until(
        lambda: any(e["dedup_key"] == found.dedup_key for e in console["pagerduty"].events),
        30,
        "the budget's page",
    )
    settled()
    pages = [e for e in console["pagerduty"].events if e["dedup_key"] == found.dedup_key]
    assert [(p["event_action"], p["payload"]["severity"]) for p in pages] == [
        ("trigger", "warning")
    ]
    assert "by team team-search" in pages[0]["payload"]["summary"]
