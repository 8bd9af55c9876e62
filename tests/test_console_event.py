"""The console's own event format: `started` and `finished` events."""

from datetime import UTC, datetime, timedelta

import pytest

from ingest.events import parse_console_event
from ingest.fields import EventError

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EPOCH_NOW = NOW.timestamp()


def parse(obj):
    return parse_console_event(obj, NOW)


def test_a_started_event_needs_an_id_and_a_start():
    event = parse(
        {
            "event": "started",
            "request_id": "r1",
            "started_at": EPOCH_NOW - 5,
            "model_group": "gpt-4o",
            "team_id": "team-search",
            "key_alias": "svc",
        }
    )

    assert event.request_id == "r1"
    assert event.started_at == NOW - timedelta(seconds=5)
    assert event.finished_at is None
    assert event.outcome == ""
    assert (event.model_group, event.gateway_team_id, event.key_alias) == (
        "gpt-4o",
        "team-search",
        "svc",
    )


def test_a_finished_failure_is_classified_from_its_status_code():
    event = parse(
        {
            "event": "finished",
            "request_id": "r1",
            "status": "failure",
            "started_at": "2026-11-22T11:59:58Z",
            "finished_at": "2026-11-22T11:59:59.5Z",
            "status_code": 503,
            "error_class": "ServiceUnavailableError",
        }
    )

    assert event.outcome == "failure"
    assert event.failure_class == "upstream"
    assert event.latency_seconds == 1.5


def test_a_finish_without_a_time_is_taken_as_now():
    event = parse({"event": "finished", "request_id": "r1", "status": "success"})
    assert event.finished_at == NOW


def test_the_failure_class_can_be_given_explicitly():
    event = parse(
        {
            "event": "finished",
            "request_id": "r1",
            "status": "failure",
            "status_code": 429,
            "failure_class": "gateway",
        }
    )
    assert event.failure_class == "gateway"


def test_nul_characters_are_removed_from_text_and_refused_in_ids():
    event = parse(
        {
            "event": "finished",
            "request_id": "r1",
            "status": "failure",
            "error_message": "bad\x00byte",
        }
    )
    assert event.error_message == "badbyte"
    with pytest.raises(EventError, match="request_id: must not contain NUL"):
        parse({"event": "finished", "request_id": "r\x001", "status": "success"})


@pytest.mark.parametrize(
    ("obj", "field", "reason"),
    [
        ([], "event", "must be a JSON object"),
        ({"request_id": "r"}, "event", "must be 'started' or 'finished'"),
        ({"event": "started"}, "request_id", "is required"),
        ({"event": "started", "request_id": "r"}, "started_at", "is required"),
        (
            {"event": "started", "request_id": {"a": 1}, "started_at": EPOCH_NOW},
            "request_id",
            "must be a string",
        ),
        (
            {"event": "started", "request_id": "r" * 256, "started_at": EPOCH_NOW},
            "request_id",
            "at most 255",
        ),
        ({"event": "finished", "request_id": "r"}, "status", "must be 'success' or 'failure'"),
        (
            {"event": "finished", "request_id": "r", "status": "success", "latency_seconds": -1},
            "latency_seconds",
            ">= 0",
        ),
        (
            {"event": "finished", "request_id": "r", "status": "success", "latency_seconds": "1"},
            "latency_seconds",
            "must be a number",
        ),
        (
            {"event": "finished", "request_id": "r", "status": "success", "latency_seconds": 1e12},
            "latency_seconds",
            "at most",
        ),
        (
            {
                "event": "finished",
                "request_id": "r",
                "status": "success",
                "finished_at": EPOCH_NOW + 3600,
            },
            "finished_at",
            "in the future",
        ),
        (
            {
                "event": "finished",
                "request_id": "r",
                "status": "success",
                "finished_at": "2026-11-22T12:00:00",
            },
            "finished_at",
            "time zone",
        ),
        (
            {
                "event": "finished",
                "request_id": "r",
                "status": "success",
                "finished_at": EPOCH_NOW - 40 * 86400,
            },
            "finished_at",
            "30 days",
        ),
        (
            {
                "event": "finished",
                "request_id": "r",
                "status": "success",
                "started_at": EPOCH_NOW,
                "finished_at": EPOCH_NOW - 1,
            },
            "finished_at",
            "before started_at",
        ),
        (
            {"event": "finished", "request_id": "r", "status": "failure", "status_code": 42},
            "status_code",
            "between 100 and 599",
        ),
        (
            {"event": "finished", "request_id": "r", "status": "failure", "failure_class": "mine"},
            "failure_class",
            "must be one of",
        ),
        (
            {"event": "finished", "request_id": "r", "status": "success", "prompt_tokens": True},
            "prompt_tokens",
            "must be a number",
        ),
        (
            {"event": "started", "request_id": "r", "started_at": EPOCH_NOW, "model": ["x"]},
            "model",
            "must be a string",
        ),
    ],
)
def test_bad_events_are_refused_naming_the_field_and_the_reason(obj, field, reason):
    with pytest.raises(EventError) as caught:
        parse(obj)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_deployment_region_end_user_and_tags_are_read_on_any_event():
    event = parse(
        {
            "event": "started",
            "request_id": "r1",
            "started_at": EPOCH_NOW - 5,
            "deployment_id": "dep-1",
            "api_base": "https://us-central1-aiplatform.googleapis.com",
            "end_user": "customer-7",
            "tags": ["prod"],
        }
    )

    assert (event.deployment_id, event.region, event.end_user, event.request_tags) == (
        "dep-1", "us-central1", "customer-7", '["prod"]'
    )  # fmt: skip


def test_a_region_sent_wins_over_the_api_base_s():
    event = parse(
        {
            "event": "started",
            "request_id": "r1",
            "started_at": EPOCH_NOW - 5,
            "region": "eu-west-1",
            "api_base": "https://bedrock-runtime.us-east-1.amazonaws.com",
        }
    )

    assert event.region == "eu-west-1"


def test_time_to_first_token_is_read_on_a_finish_and_must_be_a_duration():
    finished = {"event": "finished", "request_id": "r1", "status": "success"}

    assert (
        parse({**finished, "time_to_first_token_seconds": 0.4}).time_to_first_token_seconds == 0.4
    )
    assert parse(finished).time_to_first_token_seconds is None
    with pytest.raises(EventError) as raised:
        parse({**finished, "time_to_first_token_seconds": -1})
    assert raised.value.field == "time_to_first_token_seconds"
