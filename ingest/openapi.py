"""The OpenAPI description of the ingest endpoints, served at /ingest/v1/openapi.json.

tests/test_openapi.py checks it against the endpoints' real answers, and a schemathesis run
fuzzes the endpoints from it, so it stays true.
"""

from __future__ import annotations

from typing import Any

from ingest.bodies import REJECTIONS_LISTED

TIME_RULE = (
    "Seconds since the epoch, or ISO 8601 with a time zone. At most 5 minutes ahead of the "
    "console's clock and at most 30 days old."
)


def _time(description: str = TIME_RULE) -> dict[str, Any]:
    return {
        "description": description,
        "nullable": True,
        "oneOf": [{"type": "number"}, {"type": "string", "format": "date-time"}],
    }


def _text(limit: int = 255) -> dict[str, Any]:
    # As the parser reads it: a number is taken as its text, null as absent, long text is cut.
    return {
        "nullable": True,
        "oneOf": [{"type": "string"}, {"type": "number"}],
        "description": f"Cut to {limit} characters.",
    }


def _number(maximum: float = 1e9) -> dict[str, Any]:
    return {"type": "number", "minimum": 0, "maximum": maximum, "nullable": True}


def _count() -> dict[str, Any]:
    return {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "nullable": True}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "nullable": True, "properties": properties}


REQUEST_ID = {
    "oneOf": [
        {"type": "string", "minLength": 1, "maxLength": 255},
        {"type": "integer"},
    ],
    "description": "The gateway's id for the request; the start and finish of one request "
    "share it (LiteLLM: litellm_call_id). No NUL characters.",
}
STATUS_CODE = {
    "nullable": True,
    "oneOf": [
        {"type": "integer", "minimum": 100, "maximum": 599},
        {"type": "string", "pattern": "^ *[1-5][0-9][0-9] *$"},
    ],
}

CONSOLE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["event", "request_id"],
    "properties": {
        "event": {"type": "string", "enum": ["started", "finished"]},
        "request_id": REQUEST_ID,
        "started_at": _time("Required for 'started'. " + TIME_RULE),
        "finished_at": _time("For 'finished'; the time of receipt if absent. " + TIME_RULE),
        "status": {"type": "string", "enum": ["success", "failure"],
                   "description": "Required for 'finished'."},
        "status_code": STATUS_CODE,
        "failure_class": {"type": "string", "enum": ["upstream", "gateway", "client"],
                          "nullable": True,
                          "description": "Derived from status_code and error_class if absent."},
        "latency_seconds": _number(604800),
        "error_class": _text(100), "error_code": _text(100), "error_provider": _text(100),
        "error_message": _text(500), "trace_id": _text(), "model": _text(), "model_group": _text(),
        "provider": _text(100), "api_base": _text(500), "team_id": _text(), "team_alias": _text(),
        "key_alias": _text(), "key_hash": _text(128), "user_id": _text(), "org_id": _text(),
        "cost": _number(), "prompt_tokens": _count(), "completion_tokens": _count(),
        "total_tokens": _count(), "time_to_first_token_seconds": _number(604800),
        "deployment_id": _text(),
        "region": {**_text(100), "description": "Found in api_base (Bedrock, Vertex AI, Azure "
                   "regional endpoints) if absent."},
        "end_user": _text(),
        "tags": {"type": "array", "items": {"type": "string"}, "nullable": True,
                 "description": "At most 32 are kept, each cut to 100 characters."},
    },
    "additionalProperties": True,
}  # fmt: skip

LITELLM_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "LiteLLM's StandardLoggingPayload as its generic_api callback posts it. "
    "Only the fields below are read; messages and response are never stored. `id` stands in "
    "for a missing `litellm_call_id`.",
    "properties": {
        "litellm_call_id": REQUEST_ID,
        "id": REQUEST_ID,
        "trace_id": _text(),
        "status": {"type": "string", "enum": ["success", "failure"], "nullable": True},
        "startTime": _time(),
        "endTime": _time(),
        "model": _text(),
        "model_group": _text(),
        "custom_llm_provider": _text(100),
        "api_base": _text(500),
        "model_id": _text(),
        "region_name": _text(100),
        "completionStartTime": _time(),
        "end_user": _text(),
        "request_tags": {"type": "array", "items": {"type": "string"}, "nullable": True},
        "hidden_params": _object({"api_base": _text(500), "model_id": _text()}),
        "response_cost": _number(),
        "prompt_tokens": _count(),
        "completion_tokens": _count(),
        "total_tokens": _count(),
        "error_str": _text(500),
        "error_information": _object({
            "error_code": _text(100), "error_class": _text(100), "llm_provider": _text(100),
            "error_message": _text(500), "error_rate_limit_category": _text(50),
        }),
        "metadata": _object({
            "user_api_key_hash": _text(128), "user_api_key_alias": _text(),
            "user_api_key_team_id": _text(), "user_api_key_team_alias": _text(),
            "user_api_key_user_id": _text(), "user_api_key_org_id": _text(),
            "user_api_key_end_user_id": _text(), "region_name": _text(100),
        }),
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
REJECTED = {
    "rejected": {
        "type": "array",
        "items": REJECTION,
        "maxItems": REJECTIONS_LISTED,
        "description": f"The refused items, by index: the first {REJECTIONS_LISTED} at most.",
    },
    "rejected_total": {
        "type": "integer",
        "minimum": REJECTIONS_LISTED + 1,
        "description": f"Only when more than {REJECTIONS_LISTED} items were refused: how many.",
    },
    "rejected_omitted": {
        "type": "integer",
        "minimum": 1,
        "description": "Only with rejected_total: how many refused items are not listed.",
    },
}
RESULT = {
    "type": "object",
    "required": ["accepted", "rejected"],
    "properties": {"accepted": {"type": "integer", "minimum": 1}, **REJECTED},
}
NOTHING_VALID = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "accepted": {"type": "integer", "enum": [0]},
        **REJECTED,
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


RESPONSES = {
    "200": (
        f"Stored (committed). Items that were refused are listed (the first "
        f"{REJECTIONS_LISTED}, with a count of the rest).",
        RESULT,
    ),
    "400": ("The body is not JSON, not an object or list, or holds no valid event.", NOTHING_VALID),
    "401": ("Missing or unknown token.", ERROR),
    "403": ("The token is disabled.", ERROR),
    "405": ("Only POST.", ERROR),
    "408": (
        "The body did not arrive whole within REQUEST_BODY_TIMEOUT_SECONDS; the connection is "
        "closed.",
        ERROR,
    ),
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
