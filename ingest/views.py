"""The ingest endpoints: authenticate, read the body, parse each item, store, answer.

Nothing else happens in the request: no evaluation, no Redis. Every error is a JSON body
``{"error": ...}`` with the right status; stored events are committed before the 2xx.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from ingest import metrics
from ingest.auth import AuthError, authenticate
from ingest.bodies import BodyError, decode_items
from ingest.events import Event, parse_console_event
from ingest.fields import EventError
from ingest.litellm import parse_litellm_payload
from ingest.models import IngestToken
from ingest.openapi import openapi_document
from ingest.store import store_events

logger = logging.getLogger(__name__)

Parser = Callable[[object, datetime], Event]
JSON_TYPES = frozenset({"application/json", "application/x-ndjson", "application/jsonl"})


def error(status: int, message: str, **extra: object) -> JsonResponse:
    response = JsonResponse({"error": message, **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="ingest"'
    return response


@csrf_exempt
def console_events(request: HttpRequest) -> JsonResponse:
    return ingest(request, parse_console_event)


@csrf_exempt
def litellm_events(request: HttpRequest) -> JsonResponse:
    return ingest(request, parse_litellm_payload)


def ingest(request: HttpRequest, parse: Parser) -> JsonResponse:
    try:
        response = _ingest(request, parse)
    except Exception:
        metrics.REQUESTS.labels(status="500").inc()  # answered by the handler's error path
        raise
    metrics.REQUESTS.labels(status=str(response.status_code)).inc()
    return response


def _ingest(request: HttpRequest, parse: Parser) -> JsonResponse:
    if request.method != "POST":
        response = error(405, f"method {request.method} not allowed: POST events here")
        response["Allow"] = "POST"
        return response
    try:
        token = authenticate(request)
    except AuthError as exc:
        return error(exc.status, str(exc))
    except DatabaseError:
        logger.exception("ingest: database unavailable while checking a token")
        return error(503, "the database is unavailable; retry later")

    if request.content_type not in JSON_TYPES:
        return error(
            415,
            f"unsupported content type {request.content_type or '(none)'!r}: send application/json",
        )
    body = read_body(request, settings.INGEST_MAX_BODY_BYTES)
    if isinstance(body, JsonResponse):
        return body

    try:
        items, rejected = decode_items(body)
    except BodyError as exc:
        return error(400, str(exc))

    now = timezone.now()
    events: list[Event] = []
    for index, item in items:
        try:
            event = parse(item, now)
        except EventError as exc:
            rejected.add(index, exc.field, exc.reason)
            continue
        events.append(_with_token_team(event, token))
    if not events:
        metrics.REJECTED.inc(rejected.total)
        return error(400, "no valid events in the body", accepted=0, **rejected.as_answer())

    try:
        store_events(token.source, events, now)
    except DatabaseError:
        # Nothing is counted: the gateway sends the whole body again, and that answer counts.
        logger.exception("ingest: could not store %d events", len(events))
        return error(503, "the database is unavailable; nothing was stored, retry later")
    metrics.STORED.inc(len(events))
    metrics.REJECTED.inc(rejected.total)
    return JsonResponse({"accepted": len(events), **rejected.as_answer()})


def read_body(request: HttpRequest, limit: int) -> bytes | JsonResponse:
    """The body, or the error answer: 413 over `limit` bytes, however the body is framed."""
    declared = request.META.get("CONTENT_LENGTH")
    if declared:
        try:
            length = int(declared)
        except ValueError:
            return error(400, "the Content-Length header is not a number")
        if length > limit:
            return error(413, f"the body is {length} bytes; the limit is {limit}")
        body = request.read(limit + 1)
    elif request.META.get("wsgi.input_terminated"):
        # A chunked body has no Content-Length, so Django reads it as empty; a WSGI server
        # that ends the input stream where the body ends (granian's, gunicorn) says so here.
        body = request.META["wsgi.input"].read(limit + 1)
    else:
        body = b""
    if len(body) > limit:
        return error(413, f"the body is over the limit of {limit} bytes")
    return body


def _with_token_team(event: Event, token: IngestToken) -> Event:
    """A token bound to a team claims the events that name no team."""
    team = token.team
    if team is not None and not event.gateway_team_id and not event.gateway_team_alias:
        event.gateway_team_id = team.gateway_team_id or team.slug
        event.gateway_team_alias = team.gateway_team_alias
    return event


def openapi(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi_document())
