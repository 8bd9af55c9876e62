"""The OpenAPI description of the ingest endpoints, served at /ingest/v1/openapi.json.

tests/test_openapi.py checks it against the endpoints' real answers, and a schemathesis run
fuzzes the endpoints from it, so it stays true.
"""

from __future__ import annotations

from typing import Any

TIME_RULE = (
    "Seconds since the epoch, or ISO 8601 with a time zone. At most 5 minutes ahead of the "
    "console's clock and at most 30 days old."
)
TIME: dict[str, Any] = {
    "description": TIME_RULE,
    "oneOf": [{"type": "number"}, {"type": "string", "format": "date-time"}],
}
TEXT = {"type": "string", "maxLength": 255}

CONSOLE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["event", "request_id"],
    "properties": {
        "event": {"type": "string", "enum": ["started", "finished"]},
        "request_id": {"type": "string", "minLength": 1, "maxLength": 255,
                       "description": "The gateway's id for the request; starts and finishes "
                       "of one request share it (LiteLLM: litellm_call_id)."},
        "started_at": {**TIME, "description": "Required for 'started'. " + TIME_RULE},
        "finished_at": {**TIME, "description": "For 'finished'; the time of receipt if absent."},
        "status": {"type": "string", "enum": ["success", "failure"],
                   "description": "Required for 'finished'."},
        "status_code": {"type": "integer", "minimum": 100, "maximum": 599},
        "failure_class": {"type": "string", "enum": ["upstream", "gateway", "client"],
                          "description": "Derived from status_code and error_class if absent."},
        "latency_seconds": {"type": "number", "minimum": 0, "maximum": 604800},
        "error_class": {"type": "string"},
        "error_code": {"type": "string"},
        "error_provider": {"type": "string"},
        "error_message": {"type": "string", "description": "Cut to 500 characters."},
        "trace_id": TEXT, "model": TEXT, "model_group": TEXT, "provider": TEXT,
        "api_base": {"type": "string"}, "team_id": TEXT, "team_alias": TEXT, "key_alias": TEXT,
        "key_hash": TEXT, "user_id": TEXT, "org_id": TEXT,
        "cost": {"type": "number", "minimum": 0},
        "prompt_tokens": {"type": "integer", "minimum": 0},
        "completion_tokens": {"type": "integer", "minimum": 0},
        "total_tokens": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": True,
}  # fmt: skip

LITELLM_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "LiteLLM's StandardLoggingPayload as its generic_api callback posts it. "
    "Only the fields below are read; messages and response are never stored.",
    "required": ["litellm_call_id"],
    "properties": {
        "litellm_call_id": {"type": "string", "minLength": 1, "maxLength": 255},
        "id": {"type": "string"},
        "trace_id": {"type": "string"},
        "status": {"type": "string", "enum": ["success", "failure"]},
        "startTime": {"type": "number"},
        "endTime": {"type": "number"},
        "model": {"type": "string"},
        "model_group": {"type": "string"},
        "custom_llm_provider": {"type": "string"},
        "api_base": {"type": "string"},
        "response_cost": {"type": "number", "minimum": 0},
        "prompt_tokens": {"type": "integer", "minimum": 0},
        "completion_tokens": {"type": "integer", "minimum": 0},
        "total_tokens": {"type": "integer", "minimum": 0},
        "error_str": {"type": "string"},
        "error_information": {"type": "object", "properties": {
            "error_code": {"type": "string"}, "error_class": {"type": "string"},
            "llm_provider": {"type": "string"}, "error_message": {"type": "string"},
            "error_rate_limit_category": {"type": "string"},
        }},
        "metadata": {"type": "object", "properties": {
            "user_api_key_hash": {"type": "string"}, "user_api_key_alias": {"type": "string"},
            "user_api_key_team_id": {"type": "string"},
            "user_api_key_team_alias": {"type": "string"},
            "user_api_key_user_id": {"type": "string"}, "user_api_key_org_id": {"type": "string"},
        }},
    },
    "additionalProperties": True,
}  # fmt: skip

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}
REJECTION = {
    "type": "object",
    "required": ["index", "field", "reason"],
    "properties": {
        "index": {"type": "integer", "description": "Position in the list (or NDJSON line)."},
        "field": {"type": "string"},
        "reason": {"type": "string"},
    },
}
RESULT = {
    "type": "object",
    "required": ["accepted", "rejected"],
    "properties": {
        "accepted": {"type": "integer", "minimum": 1},
        "rejected": {"type": "array", "items": REJECTION},
    },
}
NOTHING_VALID = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "accepted": {"type": "integer", "enum": [0]},
        "rejected": {"type": "array", "items": REJECTION},
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


RESPONSES = {
    "200": ("Stored (committed). Items that were refused are listed.", RESULT),
    "400": ("The body is not JSON, not an object or list, or holds no valid event.", NOTHING_VALID),
    "401": ("Missing or unknown token.", ERROR),
    "403": ("The token is disabled.", ERROR),
    "405": ("Only POST.", ERROR),
    "413": ("The body is over INGEST_MAX_BODY_BYTES.", ERROR),
    "415": ("Not application/json.", ERROR),
    "503": ("The database is unavailable; nothing was stored.", ERROR),
}


def _operation(summary: str, event: dict[str, Any], description: str) -> dict[str, Any]:
    one_or_many = {"oneOf": [event, {"type": "array", "items": event, "minItems": 1}]}
    ndjson = {"type": "string", "description": "One event per line."}
    return {
        "post": {
            "summary": summary,
            "description": description,
            "security": [{"bearer": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": one_or_many},
                    "application/x-ndjson": {"schema": ndjson},
                },
            },
            "responses": {
                status: {"description": text, "content": _json(schema)}
                for status, (text, schema) in RESPONSES.items()
            },
        }
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Alerting Console ingest API",
            "version": "1",
            "description": "Gateways post one event per request start and finish. Every "
            "accepted event is committed to the database before the 2xx.",
        },
        "paths": {
            "/ingest/v1/events": _operation(
                "Post console events",
                CONSOLE_EVENT,
                "The console's own format: a `started` event when a request begins (needed to "
                "detect hung requests) and a `finished` event when it ends.",
            ),
            "/ingest/v1/litellm": _operation(
                "Post LiteLLM generic_api payloads",
                LITELLM_EVENT,
                "Exactly what LiteLLM's generic_api callback posts, in any of its log formats "
                "(json_array, ndjson, single).",
            ),
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
