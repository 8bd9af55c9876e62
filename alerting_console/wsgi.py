"""The WSGI callable: ingest posts take a lean path, everything else the full Django stack.

A gateway's post needs none of the middleware people's pages need (sessions, CSRF, auth,
messages, clickjacking, WhiteNoise, change history, login lockout): the ingest views are
CSRF-exempt and authenticate by bearer token. Running that chain costs about as much CPU as
the ingest view itself, so posts under /ingest/v1/ go to a Django handler without it, which
keeps what the endpoints rely on: the request_started/request_finished signals (database
connections are reused and closed by them), the Host check against ALLOWED_HOSTS, the logging
of failures, and JSON answers for every error.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable
from typing import Any, cast

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alerting_console.settings")

INGEST_PREFIX = "/ingest/v1/"

StartResponse = Callable[..., Any]


class IngestHandler(WSGIHandler):
    """Django's WSGI handler with no middleware, for the machine-facing ingest endpoints."""

    def load_middleware(self, is_async: bool = False) -> None:
        # What BaseHandler.load_middleware builds from an empty MIDDLEWARE, plus the Host check.
        self._view_middleware: list[Callable[..., Any]] = []
        self._template_response_middleware: list[Callable[..., Any]] = []
        self._exception_middleware: list[Callable[..., Any]] = []
        # Django's exception handling (log, got_request_exception, a 400 or 500 answer) stays.
        handler = convert_exception_to_response(self._checked_response)

        def chain(request: HttpRequest) -> HttpResponseBase:
            return _as_json_error(cast(HttpResponseBase, handler(request)))  # sync: no coroutine

        self._middleware_chain = chain

    def _checked_response(self, request: HttpRequest) -> HttpResponseBase:
        # As CommonMiddleware does for every other path: a Host not in ALLOWED_HOSTS raises
        # DisallowedHost, which Django answers with 400.
        request.get_host()
        get_response: Callable[[HttpRequest], HttpResponseBase] = self._get_response  # type: ignore[attr-defined]
        return get_response(request)


def _as_json_error(response: HttpResponseBase) -> HttpResponseBase:
    """Gateways read JSON: an error Django answered itself (404, 500) becomes {"error": ...}."""
    if response.status_code >= 400 and response.get("Content-Type") != "application/json":
        response = JsonResponse(
            {"error": response.reason_phrase.lower()}, status=response.status_code
        )
    response.setdefault("X-Content-Type-Options", "nosniff")  # as SecurityMiddleware sets it
    if isinstance(response, HttpResponse):  # as CommonMiddleware does: no chunked encoding
        response.setdefault("Content-Length", str(len(response.content)))
    return response


class Application:
    """Sends each request to the ingest handler or to Django's full stack, by its path."""

    def __init__(self, ingest: WSGIHandler, default: WSGIHandler) -> None:
        self.ingest = ingest
        self.default = default

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        handler = self.ingest if path.startswith(INGEST_PREFIX) else self.default
        return handler(environ, start_response)


# Young objects a collection waits for. A LiteLLM batch of 512 events parses into about 90,000
# objects that all live until the request ends: at Python's default (700) each batch paid some
# 150 young collections, each scanning objects that were still in use.
GC_YOUNG_THRESHOLD = 100_000


def tune_garbage_collector() -> None:
    """Keep the collector's pauses short and rare in a server process.

    Everything loaded at startup (Django, the URL conf, the admin: some 90,000 objects) lives
    as long as the process; frozen, a full collection no longer scans it, which took it from
    about 75 ms, stalling every thread of the worker, to about 1 ms (README, "Performance").
    Requests make few reference cycles, so collecting young objects less often costs little
    memory. Any process that imports this module is tuned: the web workers, which are what it
    is for, and also `runserver` and the test suite, where it is harmless."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


_default = get_wsgi_application()  # sets Django up, which the ingest handler needs first
application = Application(ingest=IngestHandler(), default=_default)
tune_garbage_collector()  # last: what was loaded above is what is frozen
