"""The one place outbound HTTP calls are made: every call has a total deadline, and tests swap
the transport here.

httpx's timeouts bound each read, not the call: a peer that trickles its answer a byte at a
time holds the caller for as long as it likes. So a watchdog shuts the call's sockets down
when its deadline passes, whatever the call is waiting for (the connection, the headers, the
body), and the call fails with ``DeadlineExceeded``, a timeout like any other.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from policies import egress, tls

# Raised when the egress guard refuses where an untrusted URL leads; defined with the guard.
AddressRefused = egress.AddressRefused

# Tests set this to an httpx.MockTransport (or leave it and point PAGERDUTY_EVENTS_URL at a
# local fake server); production leaves it None.
transport: httpx.BaseTransport | None = None

# At most this much of an answer is read: PagerDuty's are a few hundred bytes.
ANSWER_LIMIT = 64 * 1024


class DeadlineExceeded(httpx.TimeoutException):
    """No complete answer within the call's deadline."""


@dataclass(frozen=True)
class Reply:
    status_code: int
    headers: httpx.Headers
    content: bytes  # at most ANSWER_LIMIT bytes of the body

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")


def client(untrusted: bool = False) -> httpx.Client:
    """A client for one call. `untrusted`: connections go through the egress guard, unless a
    test has set `transport`."""
    chosen = transport
    if chosen is None and untrusted:
        chosen = egress.GuardedTransport()
    return httpx.Client(
        timeout=settings.HTTP_TIMEOUT_SECONDS,
        transport=chosen,
        verify=tls.context(),
        headers={"User-Agent": "alerting-console"},
        follow_redirects=False,
    )


def post_json(url: str, body: Any) -> Reply:
    """POST `body` as JSON and read the answer, all within HTTP_TIMEOUT_SECONDS."""
    return request("POST", url, json=body)


def request(
    method: str,
    url: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    untrusted: bool = False,
) -> Reply:
    """One call, its answer read up to ANSWER_LIMIT, all within HTTP_TIMEOUT_SECONDS.

    `untrusted`: the URL was entered by a person (a webhook), not a setting: the egress guard
    checks its scheme and host here, and every address it leads to at connect time
    (policies/egress.py); a refusal raises AddressRefused."""
    if untrusted:
        problem = egress.url_problem(url)
        if problem:
            raise AddressRefused(problem)
    seconds = settings.HTTP_TIMEOUT_SECONDS
    watchdog = _Watchdog(seconds)
    try:
        with client(untrusted) as session, watchdog:
            built = session.build_request(
                method,
                url,
                json=json,
                content=content,
                headers=headers,
                extensions={"trace": watchdog.trace},
            )
            response = session.send(built, stream=True)
            try:
                answer = b""
                for chunk in response.iter_bytes():
                    answer += chunk
                    if len(answer) >= ANSWER_LIMIT:
                        break
            finally:
                response.close()
    except httpx.HTTPError as exc:
        if watchdog.fired:
            raise DeadlineExceeded(f"no complete answer within {seconds:g} s") from exc
        raise
    return Reply(response.status_code, response.headers, answer[:ANSWER_LIMIT])


class _Watchdog:
    """Shuts down the sockets of one call when its deadline passes."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx's trace extension, called at each step of the call. The steps that open a
        connection (TCP, then TLS over it) hand over the stream whose socket to watch."""
        if not event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            return
        sock = info["return_value"].get_extra_info("socket")
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    # shutdown, not close: it wakes a read blocked on the socket in another thread at once.
    # A socket already closed (the call ended, or TLS took it over) raises; nothing to do then.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
