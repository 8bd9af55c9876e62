"""What granian serves: request bodies read whole on the event loop, then the WSGI app in threads.

granian's WSGI mode reads a body on the thread that runs the view, with no deadline: a dozen
clients sending one byte every two seconds held every thread of every worker, and gateways'
posts timed out. Here a body is read by a coroutine, which costs nothing while it waits, within
a total deadline (REQUEST_BODY_TIMEOUT_SECONDS: 408) and a size cap (413); only a complete body
reaches one of the WEB_THREADS threads that run `alerting_console.wsgi.application` (each keeps
one database connection). A body is always read to its end or the connection closed, so the
next request on a keep-alive connection never starts inside the last one's leftovers, and a
chunked body reaches the app like any other, with its real Content-Length.

Django's own ASGIHandler is not used: it runs every sync view in one thread per process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Headers = list[tuple[bytes, bytes]]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BodyLimits:
    deadline_seconds: float  # from the request's arrival to the end of its body
    ingest_bytes: int  # for paths under ingest_prefix
    other_bytes: int
    ingest_prefix: str

    def max_bytes(self, path: str) -> int:
        return self.ingest_bytes if path.startswith(self.ingest_prefix) else self.other_bytes


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, however it was framed; BodyTooLarge as soon as it passes `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value) if value.strip().isdigit() else None
    return None


def wsgi_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """PEP 3333's environ for an ASGI HTTP scope whose body has been read."""
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        # WSGI carries the path's raw bytes as latin-1; ASGI decoded them as UTF-8.
        "SCRIPT_NAME": scope.get("root_path", "").encode().decode("latin-1"),
        "PATH_INFO": scope["path"].encode().decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": (scope.get("client") or ("", 0))[0],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        # X_Forwarded_Proto would land on the same key as the proxy's X-Forwarded-Proto: dropped,
        # as Django's runserver and gunicorn drop it. The body is no longer chunked, either.
        if "_" in name or name in ("content-length", "transfer-encoding"):
            continue
        key = {"content-type": "CONTENT_TYPE"}.get(name) or "HTTP_" + name.upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def run_wsgi(app: WsgiApp, environ: dict[str, Any]) -> tuple[int, Headers, bytes]:
    """Call the app on this thread, and its response's close() too (Django's request_finished
    returns the thread's database connection there)."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [(status, headers)]
        return written.append

    result = app(environ, start_response)
    try:
        body = b"".join([*written, *result])
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started[0]
    return int(status[:3]), [(k.lower().encode(), v.encode("latin-1")) for k, v in headers], body


async def answer(send: Send, status: int, message: str) -> None:
    """An error of our own, and the connection closed: what is left of the body stays unread."""
    body = orjson.dumps({"error": message})
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                    (b"content-length", str(len(body)).encode())],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class BufferedWsgi:
    """The ASGI application: buffer the body within `limits`, then run `app` in `threads`."""

    def __init__(self, app: WsgiApp, limits: BodyLimits, threads: int) -> None:
        self.app = app
        self.limits = limits
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.max_bytes(scope["path"])
        declared = declared_length(scope["headers"])
        if declared is not None and declared > limit:
            await answer(send, 413, f"the body is {declared} bytes; the limit is {limit}")
            return
        try:
            async with asyncio.timeout(self.limits.deadline_seconds):
                body = await read_body(receive, limit)
        except TimeoutError:
            seconds = self.limits.deadline_seconds
            await answer(send, 408, f"the body did not arrive within {seconds:g} s")
            return
        except BodyTooLarge:
            await answer(send, 413, f"the body is over the limit of {limit} bytes")
            return
        except ClientGone:
            return
        loop = asyncio.get_running_loop()
        try:
            status, headers, content = await loop.run_in_executor(
                self.pool, run_wsgi, self.app, wsgi_environ(scope, body)
            )
        except Exception:  # Django answers its own errors: this is a bug of ours
            logger.exception("the WSGI application failed on %s", scope["path"])
            await answer(send, 500, "internal server error")
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.shutdown(wait=False)  # granian has let the requests in flight finish
                await send({"type": "lifespan.shutdown.complete"})
                return


def web_threads() -> int:
    return int(os.environ.get("WEB_THREADS") or 4)


def build() -> BufferedWsgi:
    from django.conf import settings

    from alerting_console import wsgi  # sets Django up

    limits = BodyLimits(
        deadline_seconds=settings.REQUEST_BODY_TIMEOUT_SECONDS,
        ingest_bytes=settings.INGEST_MAX_BODY_BYTES,
        # Django refuses larger form data anyway; the admin has no file uploads.
        other_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440,
        ingest_prefix=wsgi.INGEST_PREFIX,
    )
    return BufferedWsgi(wsgi.application, limits, threads=web_threads())


application = build()
