"""The shipped LiteLLM callback: reports starts and finishes, and never hurts the gateway."""

import ast
import asyncio
import importlib.util
import json
import logging
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from ingest.models import GatewayRequest
from tests.litellm_fixtures import load

MODULE_PATH = Path(__file__).parent.parent / "contrib" / "litellm" / "alerting_console_callback.py"


def load_callback_module():
    spec = importlib.util.spec_from_file_location("alerting_console_callback", MODULE_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


callback_module = load_callback_module()

KEY = SimpleNamespace(team_id="team-search", team_alias="Search", key_alias="search-service",
                      api_key="hashed-key", user_id="bob", org_id="org-acme")  # fmt: skip


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_it_imports_only_what_a_gateway_has():
    tree = ast.parse(MODULE_PATH.read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    top_level = {name.split(".")[0] for name in imported}
    assert top_level - sys.stdlib_module_names == {"httpx", "litellm"}


@pytest.mark.django_db(transaction=True)
def test_starts_and_finishes_land_in_the_console(live_server, make_token):
    token, _ = make_token()
    shipper = callback_module.Shipper(live_server.url, token, flush_interval=0.1)
    callback = callback_module.AlertingConsoleCallback(shipper)
    failure = load("proxy_keyed_failure_429")
    failure["startTime"] = failure["endTime"] = time.time()
    hung_id = "never-finishes"

    asyncio.run(
        callback.async_pre_call_hook(
            KEY, None, {"litellm_call_id": hung_id, "model": "gpt-4o"}, "completion"
        )
    )
    asyncio.run(
        callback.async_pre_call_hook(
            KEY, None, {"litellm_call_id": failure["litellm_call_id"]}, "completion"
        )
    )
    asyncio.run(
        callback.async_log_failure_event({"standard_logging_object": failure}, None, None, None)
    )
    callback.log_failure_event(
        {"standard_logging_object": failure}, None, None, None
    )  # LiteLLM may call both

    assert wait_until(lambda: GatewayRequest.objects.filter(outcome="failure").exists())
    shipper.close()
    hung = GatewayRequest.objects.get(request_id=hung_id)
    assert (hung.finished_at, hung.model_group, hung.key_alias, hung.gateway_team_id) == (
        None,
        "gpt-4o",
        "search-service",
        "team-search",
    )
    failed = GatewayRequest.objects.get(request_id=failure["litellm_call_id"])
    assert (failed.failure_class, failed.status_code, failed.error_class) == (
        "upstream",
        429,
        "RateLimitError",
    )
    assert failed.started_at is not None
    assert shipper.sent == 3  # two starts, one finish: the repeated failure hook sent nothing
    assert shipper.dropped == 0


def test_a_console_that_is_down_costs_a_counter_and_a_warning_not_an_exception(caplog):
    shipper = callback_module.Shipper(
        "http://127.0.0.1:9", "token", flush_interval=0.05, timeout=0.5
    )
    callback = callback_module.AlertingConsoleCallback(shipper)

    with caplog.at_level(logging.WARNING, logger="alerting_console_callback"):
        asyncio.run(
            callback.async_pre_call_hook(KEY, None, {"litellm_call_id": "r1"}, "completion")
        )
        callback.log_success_event(
            {"standard_logging_object": load("proxy_keyed_success")}, None, None, None
        )
        assert wait_until(lambda: shipper.dropped == 2)
    shipper.close()

    assert "dropped" in caplog.text
    assert "console unreachable" in caplog.text
    assert shipper.sent == 0


def test_a_console_that_refuses_counts_as_dropped():
    transport = httpx.MockTransport(
        lambda request: httpx.Response(401, json={"error": "unknown token"})
    )
    shipper = callback_module.Shipper(
        "http://console", "bad", flush_interval=0.05, transport=transport
    )

    shipper.put({"event": "started", "request_id": "r1", "started_at": time.time()})

    assert wait_until(lambda: shipper.dropped == 1)
    shipper.close()


def test_a_full_queue_drops_instead_of_blocking_the_gateway():
    release = threading.Event()

    def stalled(request):
        release.wait(5)
        return httpx.Response(200, json={"accepted": 1, "rejected": []})

    shipper = callback_module.Shipper(
        "http://console", "t", batch_size=1, flush_interval=0.01, queue_size=2,
        transport=httpx.MockTransport(stalled),
    )  # fmt: skip
    started = time.monotonic()
    for i in range(50):
        shipper.put({"event": "started", "request_id": f"r{i}", "started_at": time.time()})
    elapsed = time.monotonic() - started
    release.set()
    shipper.close()

    assert shipper.dropped >= 45
    assert elapsed < 1.0, "put() must never wait for the console"


def test_batches_are_posted_with_the_token_and_the_callers_own_request_ids():
    bodies = []

    def console(request):
        bodies.append((request.headers["Authorization"], request.url.path, request.read()))
        return httpx.Response(200, json={"accepted": 1, "rejected": []})

    shipper = callback_module.Shipper("http://console/", "tok", flush_interval=0.05,
                                      transport=httpx.MockTransport(console))  # fmt: skip
    callback = callback_module.AlertingConsoleCallback(shipper)
    callback.log_pre_api_call(
        "gpt-4o", [{"role": "user", "content": "secret prompt"}], {"litellm_call_id": "abc"}
    )

    assert wait_until(lambda: shipper.sent == 1)
    shipper.close()
    auth, path, body = bodies[0]
    assert (auth, path) == ("Bearer tok", "/ingest/v1/events")
    assert b'"request_id":"abc"' in body.replace(b" ", b"")
    assert b"secret prompt" not in body


def test_the_finished_event_carries_no_prompt_or_answer():
    payload = load("proxy_keyed_success")
    payload["messages"] = [{"role": "user", "content": "secret prompt"}]
    payload["response"] = {"choices": [{"message": {"content": "secret answer"}}]}

    event = callback_module.finished_event(payload)

    assert "secret" not in repr(event)
    assert event["request_id"] == payload["litellm_call_id"]
    assert event["status"] == "success"


def test_a_key_litellm_left_unhashed_is_hashed_before_it_leaves_the_gateway():
    """LiteLLM hashes its own sk- keys but not the keys of a custom auth: the callback must
    never send one as it is."""
    import hashlib

    sent = []

    def console(request):
        sent.append(request.read())
        return httpx.Response(200, json={"accepted": 1, "rejected": []})

    transport = httpx.MockTransport(console)
    shipper = callback_module.Shipper(
        "http://console", "t", flush_interval=0.05, transport=transport
    )
    callback = callback_module.AlertingConsoleCallback(shipper)
    raw_key = SimpleNamespace(token="my-raw-custom-key", api_key="my-raw-custom-key", key_alias="a")

    asyncio.run(
        callback.async_pre_call_hook(raw_key, None, {"litellm_call_id": "c1"}, "completion")
    )

    assert wait_until(lambda: shipper.sent == 1)
    shipper.close()
    assert b"my-raw-custom-key" not in sent[0]
    assert hashlib.sha256(b"my-raw-custom-key").hexdigest().encode() in sent[0]


@pytest.mark.parametrize(
    "name",
    [
        "proxy_keyed_success",
        "proxy_keyed_failure_429",
        "proxy_slow_success_5s",
        "proxy_upstream_503",
    ],
)
def test_the_callback_and_the_generic_api_feed_say_the_same_of_a_request(name):
    """Both feeds may run together and merge into one row: what each says of the deployment,
    region, first token, end user and tags must agree."""
    from ingest.events import parse_console_event
    from ingest.litellm import parse_litellm_payload
    from tests.litellm_fixtures import JUST_AFTER_RECORDING

    payload = load(name)
    via_callback = parse_console_event(
        json.loads(json.dumps(callback_module.finished_event(payload))), JUST_AFTER_RECORDING
    )
    via_generic_api = parse_litellm_payload(payload, JUST_AFTER_RECORDING)

    fields = (
        "api_base", "deployment_id", "region", "end_user", "request_tags", "outcome",
        "failure_class",
    )  # fmt: skip
    assert {f: getattr(via_callback, f) for f in fields} == {
        f: getattr(via_generic_api, f) for f in fields
    }
    # Times: one from float seconds, one through datetimes, to the microsecond.
    for timing in ("time_to_first_token_seconds", "latency_seconds"):
        assert getattr(via_callback, timing) == pytest.approx(
            getattr(via_generic_api, timing), abs=2e-6
        )
    assert via_callback.deployment_id  # not equal by being empty
    assert via_callback.request_tags


def test_a_failure_without_a_region_takes_its_deployments_from_the_proxys_router():
    """LiteLLM sends neither region nor API base for a request that failed before its
    provider answered; its router knows both (as its own region outage alerts read them)."""
    payload = load("proxy_keyed_success")
    payload.update(status="failure", model_id="east-a", api_base="", region_name=None)
    payload["hidden_params"] = {**(payload.get("hidden_params") or {}), "api_base": None}
    asked = []

    def router(model_id):
        asked.append(model_id)
        return ("eastus", "https://east-a.openai.azure.com")

    deployments = callback_module.Deployments(router)
    first = callback_module.finished_event(payload, deployments)
    again = callback_module.finished_event(payload, deployments)

    assert (first["region"], first["api_base"]) == ("eastus", "https://east-a.openai.azure.com")
    assert again == first
    assert asked == ["east-a"]  # asked once per deployment


def test_what_the_payload_says_of_a_region_wins_and_no_router_changes_nothing():
    payload = load("proxy_keyed_success")
    payload.update(model_id="east-a", region_name="westus")

    def router(model_id):
        raise AssertionError("not asked: the payload names the region")

    assert callback_module.finished_event(payload, router)["region"] == "westus"
    # Outside a proxy (the SDK, these tests) there is no router: nothing is added.
    payload.update(region_name=None, api_base="")
    assert callback_module.router_deployment("east-a") is None
    assert "region" not in callback_module.finished_event(payload, callback_module.Deployments())
