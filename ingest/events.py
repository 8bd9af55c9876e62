"""The console's own event format, and the normalized event every format is turned into.

Documented in the README ("The event format") and in the OpenAPI description.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest import fields, regions
from ingest.classify import classify_failure, parse_status_code
from ingest.fields import EventError

ERROR_MESSAGE_LENGTH = 500
FAILURE_CLASSES = ("upstream", "gateway", "client")


@dataclass(slots=True)
class Event:
    """What one event says about one gateway request (a start, or a finish)."""

    request_id: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: str = ""  # "" for a start; "success" or "failure" for a finish
    failure_class: str = ""
    status_code: int | None = None
    latency_seconds: float | None = None
    trace_id: str = ""
    error_class: str = ""
    error_code: str = ""
    error_provider: str = ""
    error_message: str = ""
    model: str = ""
    model_group: str = ""
    provider: str = ""
    api_base: str = ""
    gateway_team_id: str = ""
    gateway_team_alias: str = ""
    key_alias: str = ""
    key_hash: str = ""
    user_id: str = ""
    org_id: str = ""
    cost: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    # Seconds from the start to the first token of the answer, where the gateway reports it.
    time_to_first_token_seconds: float | None = None
    deployment_id: str = ""  # LiteLLM: model_id, one deployment of a model group
    region: str = ""  # the provider's region: as sent, or as its API base names it
    end_user: str = ""  # the gateway's end user (LiteLLM: end_user), not the key's owner
    request_tags: str = ""  # a JSON array of strings, "" for none (fields.tags)

    @property
    def finished(self) -> bool:
        return self.outcome != ""


def latency_between(started: datetime | None, finished: datetime | None) -> float | None:
    if started is None or finished is None:
        return None
    return max(0.0, (finished - started).total_seconds())


def parse_console_event(obj: object, now: datetime) -> Event:
    if not isinstance(obj, dict):
        raise EventError("event", f"must be a JSON object, got {type(obj).__name__}")
    kind = obj.get("event")
    if kind not in ("started", "finished"):
        raise EventError("event", "must be 'started' or 'finished'")
    event = Event(request_id=fields.identifier(obj, "request_id"))
    event.started_at = fields.timestamp(obj, "started_at", now)
    if kind == "started":
        if event.started_at is None:
            raise EventError("started_at", "is required for a 'started' event")
    else:
        status = obj.get("status")
        if status not in ("success", "failure"):
            raise EventError("status", "must be 'success' or 'failure' for a 'finished' event")
        event.outcome = status
        event.finished_at = fields.timestamp(obj, "finished_at", now) or now
        if event.started_at is not None and event.finished_at < event.started_at:
            raise EventError("finished_at", "is before started_at")
        event.status_code = _status_code(obj)
        event.latency_seconds = fields.number(
            obj, "latency_seconds", fields.MAX_DURATION_SECONDS
        ) or latency_between(event.started_at, event.finished_at)
        event.error_class = fields.text(obj, "error_class", 100)
        event.error_code = fields.text(obj, "error_code", 100)
        event.error_provider = fields.text(obj, "error_provider", 100)
        event.error_message = fields.text(obj, "error_message", ERROR_MESSAGE_LENGTH)
        if status == "failure":
            event.failure_class = _failure_class(obj, event)
        event.cost = fields.number(obj, "cost", 1e9)
        event.prompt_tokens = fields.count(obj, "prompt_tokens")
        event.completion_tokens = fields.count(obj, "completion_tokens")
        event.total_tokens = fields.count(obj, "total_tokens")
        event.time_to_first_token_seconds = fields.number(
            obj, "time_to_first_token_seconds", fields.MAX_DURATION_SECONDS
        )
    event.trace_id = fields.text(obj, "trace_id", 255)
    event.model = fields.text(obj, "model", 255)
    event.model_group = fields.text(obj, "model_group", 255)
    event.provider = fields.text(obj, "provider", 100)
    event.api_base = fields.text(obj, "api_base", 500)
    event.gateway_team_id = fields.text(obj, "team_id", 255)
    event.gateway_team_alias = fields.text(obj, "team_alias", 255)
    event.key_alias = fields.text(obj, "key_alias", 255)
    event.key_hash = fields.text(obj, "key_hash", 128)
    event.user_id = fields.text(obj, "user_id", 255)
    event.org_id = fields.text(obj, "org_id", 255)
    event.deployment_id = fields.text(obj, "deployment_id", 255)
    event.region = fields.text(obj, "region", 100) or regions.region_of(event.api_base)
    event.end_user = fields.text(obj, "end_user", 255)
    event.request_tags = fields.tags(obj, "tags")
    return event


def _status_code(obj: dict[str, Any]) -> int | None:
    raw = obj.get("status_code")
    if raw is None:
        return None
    code = parse_status_code(raw)
    if code is None:
        raise EventError(
            "status_code", f"must be an HTTP status between 100 and 599, got {fields.shown(raw)}"
        )
    return code


def _failure_class(obj: dict[str, Any], event: Event) -> str:
    given = obj.get("failure_class")
    if given is None:
        code = event.status_code or parse_status_code(event.error_code)
        return classify_failure(code, event.error_class).value
    if given not in FAILURE_CLASSES:
        raise EventError("failure_class", f"must be one of {', '.join(FAILURE_CLASSES)}")
    return str(given)
