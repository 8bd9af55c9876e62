"""The fake PagerDuty (tests/fake_pagerduty.py) served over real HTTP on 127.0.0.1.

It can also misbehave as a real server can, which a transport mock cannot show:
- ``hang()``: read each request and never answer, until ``release()`` (or the server stops);
- ``trickle(part, seconds)``: send the answer's headers (or its body) one byte every
  `seconds`;
- ``on_request``: a function called while a request is being handled, before the answer.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.fake_pagerduty import FakePagerDuty


class PagerDutyServer:
    def __init__(self) -> None:
        self.fake = FakePagerDuty()
        self.on_request: Callable[[], None] | None = None
        self.received = 0  # requests read, answered or not
        self._answering = threading.Event()
        self._answering.set()
        self._trickle: tuple[str, float] | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server.fake.lock:
                    server.received += 1
                if server.on_request is not None:
                    server.on_request()
                server._answering.wait()
                headers: dict[str, str] = {}
                if self.path != "/v2/enqueue":
                    status, answer = 404, {"message": "not found"}
                else:
                    status, headers, answer = server.fake.answer(body)
                data = json.dumps(answer).encode()
                head = [f"HTTP/1.1 {status} {self.responses[status][0]}"]
                head += [f"{name}: {value}" for name, value in headers.items()]
                head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
                head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode()
                trickle = server._trickle
                if trickle is None:
                    self.wfile.write(head_bytes + data)
                elif trickle[0] == "headers":
                    _trickle(self.wfile, head_bytes + data, trickle[1])
                else:
                    self.wfile.write(head_bytes)
                    _trickle(self.wfile, data, trickle[1])

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/enqueue"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def hang(self) -> None:
        self._answering.clear()

    def release(self) -> None:
        self._answering.set()

    def trickle(self, part: str, seconds: float) -> None:
        assert part in ("headers", "body")
        self._trickle = (part, seconds)

    def __enter__(self) -> PagerDutyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def _trickle(out: io.BufferedIOBase, data: bytes, seconds: float) -> None:
    try:
        for i in range(len(data)):
            out.write(data[i : i + 1])
            out.flush()
            time.sleep(seconds)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up: what a trickle is for
