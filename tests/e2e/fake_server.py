"""Any of the fakes under tests/fakes (a ``handle(httpx.Request) -> httpx.Response``) served
over real HTTP on 127.0.0.1, for the end-to-end tests, where the console's worker is another
process and can only reach them over the network.

``down(True)`` makes it refuse every request with 503 until ``down(False)``: a destination that
is down for a while.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

Handle = Callable[[httpx.Request], httpx.Response]


class FakeServer:
    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self.received = 0
        self.refused_while_down = 0
        self._down = False
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server._lock:
                    server.received += 1
                    down = server._down
                    if down:
                        server.refused_while_down += 1
                if down:
                    self._answer(httpx.Response(503, text="down for maintenance"))
                    return
                request = httpx.Request(
                    self.command,
                    f"{server.base}{self.path}",
                    headers=[(k, v) for k, v in self.headers.items()],
                    content=body,
                )
                self._answer(server.handle(request))

            def _answer(self, response: httpx.Response) -> None:
                content = response.read()
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_POST = do_PATCH = do_PUT = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def down(self, down: bool) -> None:
        with self._lock:
            self._down = down

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
