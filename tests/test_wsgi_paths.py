"""The real WSGI callable: ingest posts take the lean handler (no middleware), every other path
the full Django stack. The Django test client bypasses this dispatch, so these tests call
`alerting_console.wsgi.application` with a WSGI environ, as a server does."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started

from alerting_console.wsgi import IngestHandler, application
from ingest.models import GatewayRequest

# The WSGI handlers open and close database connections as a server's requests do.
pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: bytes

    def json(self) -> Any:
        assert self.headers["Content-Type"] == "application/json"
        return json.loads(self.body)


def call(method: str, path: str, body: bytes = b"", **environ: Any) -> Answer:
    env: dict[str, Any] = {}
    setup_testing_defaults(env)  # HTTP_HOST 127.0.0.1, wsgi.* keys
    env.update(
        REQUEST_METHOD=method, PATH_INFO=path, CONTENT_LENGTH=str(len(body)),
        CONTENT_TYPE="application/json",
    )  # fmt: skip
    env["wsgi.input"] = io.BytesIO(body)
    env.update(environ)
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started.append((status, headers))

    chunks = application(env, start_response)
    try:
        content = b"".join(chunks)
    finally:
        chunks.close()  # type: ignore[attr-defined] # what a server does: sends request_finished
    status, headers = started[0]
    return Answer(
        status=int(status.split()[0]),
        headers={k: v for k, v in headers if k != "Set-Cookie"},
        cookies=[v for k, v in headers if k == "Set-Cookie"],
        body=content,
    )


def event(request_id: str) -> bytes:
    started_at = time.time() - 1
    return json.dumps(
        {"event": "started", "request_id": request_id, "started_at": started_at}
    ).encode()


def post_event(token: str, body: bytes, **environ: Any) -> Answer:
    return call("POST", "/ingest/v1/events", body, HTTP_AUTHORIZATION=f"Bearer {token}", **environ)


def test_ingest_paths_go_to_the_handler_without_middleware():
    assert isinstance(application.ingest, IngestHandler)
    assert application.ingest._middleware_chain is not None
    assert not application.ingest._view_middleware
    assert len(settings.MIDDLEWARE) > 5  # what the admin paths still go through


def test_an_event_posted_through_the_lean_path_is_stored(make_token):
    token, _ = make_token(source="gw")
    answer = post_event(token, event("lean-1"))

    assert answer.status == 200, answer.body
    assert answer.json() == {"accepted": 1, "rejected": []}
    assert answer.headers["Content-Length"] == str(len(answer.body))
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.cookies == []  # no session, no CSRF cookie
    assert GatewayRequest.objects.filter(source="gw", request_id="lean-1").exists()


def test_the_lean_path_sends_request_started_and_request_finished(make_token):
    token, _ = make_token()
    seen: list[str] = []

    def started(**kwargs: Any) -> None:
        seen.append("started")

    def finished(**kwargs: Any) -> None:
        seen.append("finished")

    request_started.connect(started)
    request_finished.connect(finished)
    try:
        post_event(token, b"not json")
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    assert seen == ["started", "finished"]


def test_a_missing_or_unknown_token_is_a_401_in_json(make_token):
    missing = call("POST", "/ingest/v1/events", event("a"))
    unknown = post_event("acs_not-a-token", event("a"))

    for answer in (missing, unknown):
        assert answer.status == 401
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="ingest"'
        assert "token" in answer.json()["error"]


def test_a_body_that_is_not_json_is_a_400_in_json(make_token):
    token, _ = make_token()
    answer = post_event(token, b"{nope")

    assert answer.status == 400
    assert "not valid JSON" in answer.json()["error"]


def test_a_body_declared_over_the_limit_is_a_413_in_json(make_token):
    token, _ = make_token()
    declared = str(settings.INGEST_MAX_BODY_BYTES + 1)
    answer = post_event(token, event("big"), CONTENT_LENGTH=declared)

    assert answer.status == 413
    assert "limit" in answer.json()["error"]


def chunked(body: bytes) -> dict[str, Any]:
    """What a WSGI server that reads chunked bodies (granian's, gunicorn) passes for one: no
    Content-Length, and an input stream that ends where the body ends."""
    return {
        "CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True,
    }  # fmt: skip


def test_a_chunked_body_is_read_and_stored(make_token):
    token, _ = make_token(source="gw")
    answer = post_event(token, b"", **chunked(event("chunked-1")))

    assert answer.status == 200, answer.body
    assert GatewayRequest.objects.filter(source="gw", request_id="chunked-1").exists()


def test_a_chunked_body_over_the_limit_is_a_413_in_json(make_token):
    token, _ = make_token()
    body = b"[" + b" " * settings.INGEST_MAX_BODY_BYTES + event("big") + b"]"
    answer = post_event(token, b"", **chunked(body))

    assert answer.status == 413
    assert "limit" in answer.json()["error"]


def test_a_host_not_allowed_is_a_400_in_json(make_token):
    token, _ = make_token()
    answer = post_event(token, event("h"), HTTP_HOST="attacker.example")

    assert answer.status == 400
    assert answer.json() == {"error": "bad request"}
    assert not GatewayRequest.objects.exists()


def test_an_unknown_ingest_path_is_a_404_in_json():
    answer = call("POST", "/ingest/v1/nothing-here", b"{}")

    assert answer.status == 404
    assert answer.json() == {"error": "not found"}


class DroppedConnection(io.RawIOBase):
    """A gateway's connection that fails while the server reads the body: a fault from
    outside that the ingest view does not expect."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise ConnectionResetError("a bug in the network: connection reset by peer")


def test_a_crash_in_an_ingest_view_is_logged_and_a_500_in_json(make_token, caplog):
    token, _ = make_token()

    answer = post_event(token, event("boom"), **{"wsgi.input": DroppedConnection()})

    assert answer.status == 500
    assert answer.json() == {"error": "internal server error"}
    assert any(
        r.name == "django.request" and r.exc_info and "a bug" in str(r.exc_info[1])
        for r in caplog.records
    )


def test_an_ingest_request_that_crashes_is_counted_as_a_500(make_token):
    token, _ = make_token()

    def crashed() -> float:
        answer = call("GET", "/metrics")
        assert answer.status == 200
        found = re.search(
            rb'console_ingest_requests_total\{status="500"\} ([0-9.e+]+)', answer.body
        )
        return float(found.group(1)) if found else 0.0

    before = crashed()
    answer = post_event(token, event("boom"), **{"wsgi.input": DroppedConnection()})

    assert answer.status == 500
    assert crashed() == before + 1


def test_the_admin_path_keeps_its_middleware_security_headers_and_csrf_cookie():
    answer = call("GET", "/admin/login/")

    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"
    assert any(cookie.startswith(" csrftoken=") for cookie in answer.cookies), answer.cookies


def test_the_admin_path_still_refuses_a_post_without_a_csrf_token():
    answer = call(
        "POST", "/admin/login/", b"username=ops&password=x",
        CONTENT_TYPE="application/x-www-form-urlencoded",
    )  # fmt: skip

    assert answer.status == 403
    assert b"CSRF" in answer.body


def test_a_path_outside_ingest_v1_is_not_given_the_lean_path():
    answer = call("GET", "/ingest/v1")  # no trailing slash: not under the prefix

    assert answer.status == 404
    assert answer.headers["Content-Type"].startswith("text/html")
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_a_process_that_loads_the_application_freezes_what_it_loaded_for_the_collector():
    # In a process of its own: this one's collector state depends on what pytest imported.
    probe = (
        "import gc, alerting_console.wsgi as w; "
        "print(gc.get_freeze_count(), gc.get_threshold()[0], w.GC_YOUNG_THRESHOLD)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    frozen, threshold, configured = (int(x) for x in out[-3:])
    assert frozen > 20_000  # Django, the URL conf and the admin, out of every full collection
    assert threshold == configured > 700
