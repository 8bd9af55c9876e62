"""LiteLLM's StandardLoggingPayload read into an event: what is kept, and what never is."""

import dataclasses
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
