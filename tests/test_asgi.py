"""The ASGI adapter granian serves (alerting_console/asgi.py), driven as an ASGI server drives
it: the body is read whole within a deadline and a size cap, then the real WSGI application
runs in the adapter's threads. The same over real sockets: tests/e2e/test_request_bodies.py."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from django.conf import settings
from django.db import connections

from alerting_console import wsgi
from alerting_console.asgi import (
    BodyLimits,
    BodyTooLarge,
    BufferedWsgi,
    Message,
    read_body,
    wsgi_environ,
)
from ingest.models import GatewayRequest

# The application runs in the adapter's own threads, which see only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

LIMITS = BodyLimits(
    deadline_seconds=0.5, ingest_bytes=4096, other_bytes=1024, ingest_prefix="/ingest/v1/"
)


def scope(path: str, headers: list[tuple[bytes, bytes]], method: str = "POST") -> dict[str, Any]:
    return {
        "type": "http", "http_version": "1.1", "method": method, "scheme": "http", "path": path,
        "query_string": b"", "root_path": "", "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("192.0.2.7", 50000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip


def body_of(*chunks: bytes) -> list[Message]:
    return [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]


class Client:
    """An ASGI server's side of one request: what it was told, and how much body it gave."""

    def __init__(self, messages: list[Message], stall: bool = False) -> None:
        self.messages = list(messages)
        self.stall = stall  # a client that stops sending once these are given
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if not self.messages:
            assert self.stall, "read past the end of the body"
            await asyncio.sleep(3600)
        return self.messages.pop(0)

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])

    def json(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


def serve(request_scope: dict[str, Any], client: Client, limits: BodyLimits = LIMITS) -> Client:
    adapter = BufferedWsgi(wsgi.application, limits, threads=1)
    try:
        asyncio.run(adapter(request_scope, client.receive, client.send))
    finally:
        adapter.pool.submit(connections.close_all)  # the thread's, or the test database stays
        adapter.pool.shutdown()
    return client


def events(*request_ids: str) -> bytes:
    started = time.time() - 1
    return json.dumps(
        [{"event": "started", "request_id": r, "started_at": started} for r in request_ids]
    ).encode()


def ingest_headers(token: str, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
        *extra,
    ]


def test_a_chunked_body_reaches_the_application_whole_and_is_stored(make_token):
    token, _ = make_token(source="gw")
    body = events("c-1", "c-2")
    chunked = ingest_headers(token, (b"transfer-encoding", b"chunked"))

    client = serve(scope("/ingest/v1/events", chunked), Client(body_of(body[:10], body[10:])))

    assert client.status == 200, client.json()
    assert client.json() == {"accepted": 2, "rejected": []}
    assert set(GatewayRequest.objects.values_list("request_id", flat=True)) == {"c-1", "c-2"}


def test_a_body_that_stalls_is_answered_408_and_the_connection_closed(make_token):
    token, _ = make_token(source="gw")
    headers = ingest_headers(token, (b"content-length", b"2000"))
    client = Client(body_of(b"[", b"{"), stall=True)
    client.messages[-1]["more_body"] = True

    started = time.monotonic()
    serve(scope("/ingest/v1/events", headers), client)

    assert client.status == 408
    assert client.headers[b"connection"] == b"close"
    assert "0.5 s" in client.json()["error"]
    assert 0.4 < time.monotonic() - started < 5
    assert not GatewayRequest.objects.exists()


def test_a_declared_length_over_the_limit_is_a_413_before_any_body_is_read(make_token):
    token, _ = make_token()
    headers = ingest_headers(token, (b"content-length", b"4097"))
    client = Client([])  # reading would fail the test

    serve(scope("/ingest/v1/events", headers), client)

    assert client.status == 413
    assert client.headers[b"connection"] == b"close"
    assert client.json() == {"error": "the body is 4097 bytes; the limit is 4096"}


def test_a_chunked_body_over_the_limit_is_a_413_as_soon_as_it_passes_it(make_token):
    token, _ = make_token()
    client = Client(body_of(b"x" * 3000, b"x" * 3000, b"never read"))

    serve(scope("/ingest/v1/events", ingest_headers(token)), client)

    assert client.status == 413
    assert client.headers[b"connection"] == b"close"
    assert client.messages == body_of(b"x", b"x", b"never read")[2:]  # the rest left unread


def test_paths_outside_ingest_have_the_smaller_limit():
    form = [(b"content-type", b"application/x-www-form-urlencoded")]
    small = serve(scope("/admin/login/", form), Client(body_of(b"u=" + b"x" * 1100)))

    assert small.status == 413
    assert LIMITS.max_bytes("/ingest/v1/litellm") == 4096
    assert LIMITS.max_bytes("/admin/login/") == 1024


def test_a_page_is_served_with_its_headers_by_the_full_django_stack():
    client = serve(scope("/admin/login/", [], method="GET"), Client(body_of(b"")))

    assert client.status == 200
    assert client.headers[b"x-frame-options"] == b"DENY"
    assert int(client.headers[b"content-length"]) == len(client.sent[1]["body"])


def test_read_body_stops_at_the_first_chunk_over_the_limit():
    client = Client(body_of(b"a" * 6, b"b" * 6, b"c"))

    with pytest.raises(BodyTooLarge):
        asyncio.run(read_body(client.receive, 10))
    assert len(client.messages) == 1


def test_the_environ_carries_the_real_length_and_no_header_a_proxy_cannot_tell_apart():
    headers = [
        (b"content-type", b"application/json"),
        (b"transfer-encoding", b"chunked"),
        (b"x-forwarded-proto", b"https"),
        (b"x_forwarded_proto", b"http"),  # same WSGI key as the proxy's header: dropped
        (b"accept", b"text/html"),
        (b"accept", b"application/json"),
    ]
    environ = wsgi_environ(scope("/ingest/v1/caf\u00e9", headers), b"12345")

    assert environ["CONTENT_LENGTH"] == "5"
    assert environ["wsgi.input"].read() == b"12345"
    assert "HTTP_TRANSFER_ENCODING" not in environ
    assert environ["HTTP_X_FORWARDED_PROTO"] == "https"
    assert environ["HTTP_ACCEPT"] == "text/html,application/json"
    assert environ["PATH_INFO"] == "/ingest/v1/caf\u00e9".encode().decode("latin-1")
    assert environ["REMOTE_ADDR"] == "192.0.2.7"
    assert environ["CONTENT_TYPE"] == "application/json"


def test_the_limits_come_from_the_settings():
    from alerting_console.asgi import application

    assert application.limits.deadline_seconds == settings.REQUEST_BODY_TIMEOUT_SECONDS
    assert application.limits.ingest_bytes == settings.INGEST_MAX_BODY_BYTES
    assert application.limits.ingest_prefix == wsgi.INGEST_PREFIX


def test_an_application_that_raises_is_logged_and_answered_500(caplog):
    def broken(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("a bug")

    adapter = BufferedWsgi(broken, LIMITS, threads=1)
    client = Client(body_of(b""))
    asyncio.run(adapter(scope("/anything", [], method="GET"), client.receive, client.send))
    adapter.pool.shutdown()

    assert client.status == 500
    assert client.json() == {"error": "internal server error"}
    assert any("a bug" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_it_completes_granians_startup_and_shutdown_and_stops_its_threads():
    adapter = BufferedWsgi(wsgi.application, LIMITS, threads=1)
    client = Client([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    asyncio.run(adapter({"type": "lifespan"}, client.receive, client.send))

    assert client.sent == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]
    with pytest.raises(RuntimeError, match="shutdown"):
        adapter.pool.submit(print)
