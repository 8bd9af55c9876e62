"""LiteLLM's StandardLoggingPayload, as its generic_api callback posts it, as an ``Event``.

Only what detection and history need is read; prompts and answers (``messages``,
``response``) are never touched. Every field may be missing or null in some LiteLLM version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ingest import fields, regions
from ingest.classify import classify_failure, parse_status_code
from ingest.events import ERROR_MESSAGE_LENGTH, Event, latency_between
from ingest.fields import EventError


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventError(key, f"must be an object, got {type(value).__name__}")
    return value


def _first_token(payload: dict[str, Any], event: Event, now: datetime) -> float | None:
    """Seconds from the start to the first token (completionStartTime), within the latency."""
    first = payload.get("completionStartTime")
    if first is None or event.started_at is None or event.latency_seconds is None:
        return None
    start = payload.get("startTime")
    if type(first) is float and type(start) is float:  # as LiteLLM sends them: no datetimes
        seconds = first - start
    else:
        moment = fields.timestamp(payload, "completionStartTime", now)
        seconds = (moment - event.started_at).total_seconds() if moment else 0.0
    return min(max(0.0, seconds), event.latency_seconds)


def parse_litellm_payload(payload: object, now: datetime) -> Event:
    if not isinstance(payload, dict):
        raise EventError("event", f"must be a JSON object, got {type(payload).__name__}")
    key = "litellm_call_id" if payload.get("litellm_call_id") else "id"
    event = Event(request_id=fields.identifier(payload, key, field="litellm_call_id"))
    error = _object(payload, "error_information")
    meta = _object(payload, "metadata")

    event.started_at = fields.timestamp(payload, "startTime", now)
    event.finished_at = fields.timestamp(payload, "endTime", now) or now
    if event.started_at is not None and event.finished_at < event.started_at:
        raise EventError("endTime", "is before startTime")
    event.latency_seconds = latency_between(event.started_at, event.finished_at)

    event.error_class = fields.text(error, "error_class", 100, "error_information.error_class")
    event.error_code = fields.text(error, "error_code", 100, "error_information.error_code")
    event.error_provider = fields.text(error, "llm_provider", 100, "error_information.llm_provider")
    event.error_message = fields.text(
        error, "error_message", ERROR_MESSAGE_LENGTH, "error_information.error_message"
    ) or fields.text(payload, "error_str", ERROR_MESSAGE_LENGTH)

    status = payload.get("status")
    if status not in ("success", "failure"):
        # Older versions may omit it: an error class means the call failed.
        status = "failure" if event.error_class else "success"
    event.outcome = status
    if status == "failure":
        event.status_code = parse_status_code(event.error_code)
        category = fields.text(
            error, "error_rate_limit_category", 50, "error_information.error_rate_limit_category"
        )
        event.failure_class = classify_failure(event.status_code, event.error_class, category)

    event.trace_id = fields.text(payload, "trace_id", 255)
    event.model = fields.text(payload, "model", 255)
    event.model_group = fields.text(payload, "model_group", 255)
    event.provider = fields.text(payload, "custom_llm_provider", 100)
    hidden = _object(payload, "hidden_params")
    # The proxy leaves the top-level api_base and model_id empty on some paths and fills
    # hidden_params' (tests/fixtures/litellm/proxy_keyed_success.json).
    event.api_base = fields.text(payload, "api_base", 500) or fields.text(
        hidden, "api_base", 500, "hidden_params.api_base"
    )
    event.deployment_id = fields.text(payload, "model_id", 255) or fields.text(
        hidden, "model_id", 255, "hidden_params.model_id"
    )
    event.region = (
        fields.text(payload, "region_name", 100)
        or fields.text(meta, "region_name", 100, "metadata.region_name")
        or regions.region_of(event.api_base)
    )
    event.time_to_first_token_seconds = _first_token(payload, event, now)
    event.end_user = fields.text(payload, "end_user", 255) or fields.text(
        meta, "user_api_key_end_user_id", 255, "metadata.user_api_key_end_user_id"
    )
    event.request_tags = fields.tags(payload, "request_tags")
    event.gateway_team_id = fields.text(
        meta, "user_api_key_team_id", 255, "metadata.user_api_key_team_id"
    )
    event.gateway_team_alias = fields.text(
        meta, "user_api_key_team_alias", 255, "metadata.user_api_key_team_alias"
    )
    event.key_alias = fields.text(meta, "user_api_key_alias", 255, "metadata.user_api_key_alias")
    event.key_hash = fields.text(meta, "user_api_key_hash", 128, "metadata.user_api_key_hash")
    event.user_id = fields.text(meta, "user_api_key_user_id", 255, "metadata.user_api_key_user_id")
    event.org_id = fields.text(meta, "user_api_key_org_id", 255, "metadata.user_api_key_org_id")
    event.cost = fields.number(payload, "response_cost", 1e9)
    event.prompt_tokens = fields.count(payload, "prompt_tokens")
    event.completion_tokens = fields.count(payload, "completion_tokens")
    event.total_tokens = fields.count(payload, "total_tokens")
    return event
