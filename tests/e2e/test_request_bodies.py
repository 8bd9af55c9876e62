"""Request bodies as the production web server (`python -m alerting_console.serve`) reads them,
over real sockets: slow bodies hold no thread and get a 408, chunked bodies are read (413 over
the limit), and a post answered before its body was read leaves its connection usable."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from ingest.models import GatewayRequest
from tests.e2e.live import database_url
from tests.e2e.processes import Process, answers, child_environment, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEADLINE = 3  # REQUEST_BODY_TIMEOUT_SECONDS of the server under test
LIMIT = 1_048_576  # its INGEST_MAX_BODY_BYTES
# Two workers of two threads: four requests at once would hold every thread of granian's WSGI mode.
WORKERS, THREADS = 2, 2
SLOW_CONNECTIONS = 16


@pytest.fixture(scope="module")
def web(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The web server alone, on the test database (it sees what tests commit)."""
    port = free_port()
    var = tmp_path_factory.mktemp("web")
    env = child_environment(
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        SECRET_KEY="e2e-only",
        CONSOLE_VAR_DIR=str(var),
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=str(WORKERS),
        WEB_THREADS=str(THREADS),
        REQUEST_BODY_TIMEOUT_SECONDS=str(DEADLINE),
        INGEST_MAX_BODY_BYTES=str(LIMIT),
    )
    server = Process([sys.executable, "-m", "alerting_console.serve"], env, Path(var) / "web.log")
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_for(lambda: answers(f"{url}/admin/login/"), 60, "the web server")
        yield url
    finally:
        server.kill()


def event(request_id: str) -> dict[str, object]:
    return {"event": "started", "request_id": request_id, "started_at": time.time() - 1}


async def dribble(port: int, head: str, gap: float, give_up: float) -> tuple[int, float]:
    """Send `head` (which declares a large body), then a byte every `gap` seconds until the
    server answers: its status (0 if none by `give_up`) and how long after the head it came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode())
    await writer.drain()
    started = time.monotonic()

    async def keep_sending() -> None:
        while True:
            await asyncio.sleep(gap)
            writer.write(b"x")
            await writer.drain()

    sender = asyncio.create_task(keep_sending())
    try:
        status_line = await asyncio.wait_for(reader.readline(), give_up)
        return int(status_line.split()[1]), time.monotonic() - started
    except TimeoutError:
        return 0, give_up  # never answered
    finally:
        sender.cancel()
        writer.close()


Outcome = tuple[int | str, float]  # the status or the client's error, and the seconds it took


async def slow_and_normal_clients(url: str, token: str) -> tuple[list[Outcome], list[Outcome]]:
    port = int(url.rsplit(":", 1)[1])
    host = f"Host: 127.0.0.1:{port}\r\n"
    slow_heads = [
        # A gateway with a valid token whose body trickles in, and a login form that does too.
        f"POST /ingest/v1/events HTTP/1.1\r\n{host}Authorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n[",
        f"POST /admin/login/ HTTP/1.1\r\n{host}"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\nu",
    ]
    slow = [
        asyncio.create_task(dribble(port, slow_heads[i % 2], gap=0.5, give_up=DEADLINE + 20))
        for i in range(SLOW_CONNECTIONS)
    ]
    await asyncio.sleep(1)  # every slow connection is in its body
    normal: list[Outcome] = []
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        for i in range(10):
            started = time.monotonic()
            try:
                answer = await client.post(
                    "/ingest/v1/events", json=[event(f"prompt-{i}")],
                    headers={"Authorization": f"Bearer {token}"},
                )  # fmt: skip
                normal.append((answer.status_code, time.monotonic() - started))
            except httpx.TimeoutException as exc:
                normal.append((type(exc).__name__, time.monotonic() - started))
            await asyncio.sleep(0.1)
        login_page = await client.get("/admin/login/")
        normal.append((login_page.status_code, 0.0))
    return list(await asyncio.gather(*slow)), normal


def test_slow_bodies_hold_no_thread_and_are_answered_408_after_the_deadline(web, make_token):
    token, _ = make_token(source="gw")

    slow, normal = asyncio.run(slow_and_normal_clients(web, token))

    # Every normal post answered while sixteen slow bodies were arriving, well within the
    # client's timeout (usually in milliseconds; generous for a shared machine).
    assert [status for status, _ in normal] == [200] * 11, normal
    assert max(seconds for _, seconds in normal) < 2, normal
    assert GatewayRequest.objects.filter(source="gw").count() == 10
    # The slow ones were cut off at the deadline rather than served whenever they finished.
    assert [status for status, _ in slow] == [408] * SLOW_CONNECTIONS, slow
    assert all(DEADLINE - 0.5 < seconds < DEADLINE + 10 for _, seconds in slow), slow


def chunks(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_chunked_body_is_read_and_stored(web, make_token):
    token, _ = make_token(source="gw")
    body = json.dumps([event("chunked-1"), event("chunked-2")]).encode()

    answer = httpx.post(
        f"{web}/ingest/v1/events", content=chunks(body, 50), timeout=10,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip

    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 2, "rejected": []}
    stored = GatewayRequest.objects.filter(source="gw").values_list("request_id", flat=True)
    assert sorted(stored) == ["chunked-1", "chunked-2"]


def test_a_chunked_body_over_the_limit_is_a_413(web, make_token):
    token, _ = make_token(source="gw")
    body = json.dumps([event(f"big-{i}") for i in range(LIMIT // 50)]).encode()
    assert len(body) > LIMIT

    answer = httpx.post(
        f"{web}/ingest/v1/events", content=chunks(body, 16_384), timeout=10,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip

    assert answer.status_code == 413, answer.text
    assert str(LIMIT) in answer.json()["error"]
    assert not GatewayRequest.objects.exists()


def post_on(client: httpx.Client, token: str, content_type: str, body: str) -> object:
    """The answer's status, or the error if the connection failed."""
    try:
        return client.post(
            "/ingest/v1/events", content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        ).status_code  # fmt: skip
    except httpx.TransportError as exc:
        return repr(exc)


def test_posts_refused_before_their_body_was_read_leave_the_connection_usable(web, make_token):
    token, _ = make_token(source="gw")
    # Left unread by the refusal; at 20 KB the next post never failed, at 200 KB one in ten did.
    refused_body = json.dumps([{**event("refused"), "model": "x" * 300_000}])
    refusals = [("acs_not-a-token", "application/json", 401), (token, "text/plain", 415)]
    wrong: list[tuple[int, int, object]] = []
    with httpx.Client(base_url=web, timeout=10) as client:  # one keep-alive connection
        for i in range(120):
            bad_token, content_type, refusal = refusals[i % 2]
            for used_token, used_type, body, expected in (
                (bad_token, content_type, refused_body, refusal),
                (token, "application/json", json.dumps([event(f"ok-{i}")]), 200),
            ):
                status = post_on(client, used_token, used_type, body)
                if status != expected:
                    wrong.append((i, expected, status))

    assert wrong == []
    assert GatewayRequest.objects.filter(source="gw").count() == 120
