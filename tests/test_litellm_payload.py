"""LiteLLM's StandardLoggingPayload read into an event: what is kept, and what never is."""

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from ingest.fields import EventError
from ingest.litellm import parse_litellm_payload
from tests.litellm_fixtures import JUST_AFTER_RECORDING, load


def parse(payload, now=JUST_AFTER_RECORDING):
    return parse_litellm_payload(payload, now)


def test_it_reads_who_called_what_and_how_it_failed():
    event = parse(load("proxy_keyed_failure_429"))

    assert event.request_id == "e8801b61-7d08-4ee6-81c6-2edae4187deb"
    assert event.trace_id == "2868073f-a4d2-48c2-9d1a-f4ffcc666e1c"
    assert event.outcome == "failure"
    assert (event.status_code, event.error_class, event.error_provider) == (
        429,
        "RateLimitError",
        "openai",
    )
    assert event.error_code == "429"
    assert event.error_message == "litellm.RateLimitError: this is a mock rate limit error"
    assert (event.model, event.model_group, event.provider) == (
        "openai/gpt-4o-mini",
        "mock-ratelimit",
        "openai",
    )
    assert (event.gateway_team_id, event.gateway_team_alias, event.key_alias) == (
        "team-search",
        "Search",
        "search-service",
    )
    assert event.key_hash.startswith("112b0a09")
    assert (event.user_id, event.org_id) == ("bob", "org-acme")
    assert event.started_at == datetime.fromtimestamp(1795352668.637566, UTC)
    assert event.finished_at == datetime.fromtimestamp(1795352668.640688, UTC)
    assert event.latency_seconds == pytest.approx(0.003122, abs=1e-5)


def test_a_success_has_its_latency_cost_and_tokens():
    event = parse(load("proxy_slow_success_5s"))

    assert event.outcome == "success"
    assert event.failure_class == ""
    assert event.status_code is None
    assert event.latency_seconds == pytest.approx(5.59, abs=0.01)
    assert event.api_base == "http://127.0.0.1:18555/fake-openai/delay/5/v1"
    assert event.total_tokens is not None


def test_prompts_and_answers_are_never_kept():
    payload = load("proxy_keyed_success")
    payload["messages"] = [{"role": "user", "content": "the secret prompt"}]
    payload["response"] = {"choices": [{"message": {"content": "the secret answer"}}]}

    kept = repr(dataclasses.asdict(parse(payload)))

    assert "secret prompt" not in kept
    assert "secret answer" not in kept


def test_missing_optional_fields_are_tolerated():
    event = parse({"litellm_call_id": "abc", "status": "failure"})

    assert event.request_id == "abc"
    assert event.outcome == "failure"
    assert event.failure_class == "upstream"  # unknown cause: when in doubt, page
    assert event.finished_at == JUST_AFTER_RECORDING


def test_an_older_payload_without_status_is_judged_by_its_error_class():
    payload = load("proxy_upstream_503")
    del payload["status"]

    assert parse(payload).outcome == "failure"


def test_the_provider_id_is_used_when_litellm_call_id_is_missing():
    assert parse({"id": "chatcmpl-1", "status": "success"}).request_id == "chatcmpl-1"


def test_error_messages_are_cut_to_a_bounded_length():
    payload = load("proxy_upstream_503")
    payload["error_information"]["error_message"] = "x" * 100_000

    assert len(parse(payload).error_message) == 500


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"litellm_call_id": None, "id": None}, "litellm_call_id"),
        ({"startTime": "yesterday"}, "startTime"),
        ({"endTime": 1e20}, "endTime"),
        ({"endTime": 1795352000.0}, "endTime"),  # before startTime
        ({"response_cost": "free"}, "response_cost"),
        ({"response_cost": -1}, "response_cost"),
        ({"total_tokens": 1.5}, "total_tokens"),
        ({"metadata": "team-search"}, "metadata"),
        ({"error_information": [1, 2]}, "error_information"),
    ],
)
def test_absurd_values_are_refused_naming_the_field(change, field):
    payload = load("proxy_keyed_failure_429")
    payload.update(change)

    with pytest.raises(EventError) as caught:
        parse(payload)
    assert caught.value.field == field


def test_a_timestamp_far_in_the_future_is_refused():
    payload = load("proxy_keyed_success")
    with pytest.raises(EventError, match="startTime: is in the future"):
        parse(payload, now=datetime(2026, 11, 1, tzinfo=UTC))


def test_a_nested_metadata_field_is_named_with_its_path():
    payload = load("proxy_keyed_success")
    payload["metadata"]["user_api_key_alias"] = {"nested": True}

    with pytest.raises(EventError, match=r"^metadata.user_api_key_alias: must be a string"):
        parse(payload)


def test_it_keeps_the_deployment_first_token_end_user_and_tags():
    event = parse(load("proxy_slow_success_5s"))

    assert event.deployment_id == (
        "171a04d0712d37336af3a0297bf4258bd55f068307a325ed1d2597e74b2f7d06"
    )
    # Not streamed: LiteLLM reports the end as the first token.
    assert event.time_to_first_token_seconds == pytest.approx(event.latency_seconds)
    assert event.end_user == "end-user-42"
    assert json.loads(event.request_tags) == [
        "sample",
        "proxy-master_key",
        "case:upstream_http_slow_success_5s",
        "User-Agent: sample-client",
        "User-Agent: sample-client/1.0",
    ]
    assert event.region == ""  # a local mock names no region


def test_the_api_base_and_deployment_come_from_hidden_params_when_the_top_level_is_empty():
    payload = load("proxy_keyed_success")
    payload["model_id"] = None
    assert payload["api_base"] == ""

    event = parse(payload)

    assert event.api_base == "http://127.0.0.1:18555/fake-openai/delay/0/v1"
    assert event.deployment_id == payload["hidden_params"]["model_id"]


def test_an_event_without_the_new_fields_leaves_them_empty():
    [first, *_] = load("sdk_batch_7_events")
    for key in ("model_id", "completionStartTime", "end_user", "request_tags", "hidden_params"):
        first.pop(key, None)

    event = parse(first)

    assert (event.deployment_id, event.region, event.end_user, event.request_tags) == (
        "", "", "", ""
    )  # fmt: skip
    assert event.time_to_first_token_seconds is None


def test_a_time_to_first_token_is_measured_from_the_start():
    payload = load("proxy_keyed_success")
    payload["stream"] = True
    payload["endTime"] = payload["startTime"] + 2.0
    payload["completionStartTime"] = payload["startTime"] + 0.25

    assert parse(payload).time_to_first_token_seconds == pytest.approx(0.25)
    payload["completionStartTime"] = datetime.fromtimestamp(
        payload["startTime"] + 0.5, UTC
    ).isoformat()  # a version that sends times as text
    assert parse(payload).time_to_first_token_seconds == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize(("offset", "expected"), [(-1.0, 0.0), (3.0, 2.0)])
def test_a_first_token_outside_the_request_is_kept_within_it(offset, expected):
    payload = load("proxy_keyed_success")
    payload["endTime"] = payload["startTime"] + 2.0
    payload["completionStartTime"] = payload["startTime"] + offset

    assert parse(payload).time_to_first_token_seconds == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("sent", "region"),
    [
        ({"region_name": "eu-central-1"}, "eu-central-1"),
        ({"metadata_region_name": "westeurope"}, "westeurope"),
        ({"api_base": "https://bedrock-runtime.us-west-2.amazonaws.com"}, "us-west-2"),
        (
            {
                "region_name": "eu-central-1",
                "api_base": "https://bedrock-runtime.us-west-2.amazonaws.com",
            },
            "eu-central-1",
        ),
    ],
)
def test_the_region_is_the_one_sent_else_the_one_the_api_base_names(sent, region):
    payload = load("proxy_keyed_success")
    payload.update({k: v for k, v in sent.items() if not k.startswith("metadata_")})
    if "metadata_region_name" in sent:
        payload["metadata"]["region_name"] = sent["metadata_region_name"]

    assert parse(payload).region == region


def test_the_end_user_falls_back_to_the_key_s_end_user_id():
    payload = load("proxy_keyed_success")
    payload["end_user"] = None
    payload["metadata"]["user_api_key_end_user_id"] = "customer-7"

    assert parse(payload).end_user == "customer-7"


@pytest.mark.parametrize(
    ("tags", "field", "reason"),
    [
        ("prod", "request_tags", "must be a list of strings, got str"),
        (["prod", 7], "request_tags[1]", "must be a string, got int"),
    ],
)
def test_bad_tags_are_refused_naming_the_field(tags, field, reason):
    payload = load("proxy_keyed_success")
    payload["request_tags"] = tags

    with pytest.raises(EventError) as raised:
        parse(payload)

    assert (raised.value.field, raised.value.reason) == (field, reason)


def test_tags_are_bounded_and_kept_once():
    payload = load("proxy_keyed_success")
    payload["request_tags"] = ["a" * 500, "b", "b", "", *(f"t{i}" for i in range(100))]

    kept = json.loads(parse(payload).request_tags)

    assert kept[:3] == ["a" * 100, "b", "t0"]
    assert len(kept) == 32 - 2  # the first 32 tags sent, less the repeated and the empty one
