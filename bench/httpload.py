"""A small keep-alive HTTP/1.1 load generator on asyncio streams.

httpx costs about a millisecond of CPU per request, which on a 2-core machine would measure
the client rather than the console; this sends raw requests and reads Content-Length bodies.
Latency is measured from when a request was due, not when a connection was free, so a slow
server cannot hide its queueing (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


class Connection:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        close = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return status


async def closed_loop(
    host: str, port: int, token: str, path: str, bodies: list[bytes], concurrency: int
) -> Result:
    """Send every body as fast as `concurrency` connections allow."""
    result = Result()
    pending = list(reversed(bodies))

    async def worker() -> None:
        conn = Connection(host, port, token)
        while pending:
            body = pending.pop()
            started = time.perf_counter()
            status = await conn.post(path, body)
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result


async def open_loop(
    host: str, port: int, token: str, path: str, bodies: list[bytes], rate: float, connections: int
) -> Result:
    """Send one body every 1/rate seconds, whatever the answers, on a pool of connections."""
    result = Result()
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection(host, port, token))

    async def send(body: bytes, due: float) -> None:
        conn = await pool.get()
        try:
            status = await conn.post(path, body)
        finally:
            pool.put_nowait(conn)
        result.latencies.append(time.perf_counter() - due)
        result.statuses[status] = result.statuses.get(status, 0) + 1

    tasks = []
    start = time.perf_counter()
    for i, body in enumerate(bodies):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(body, due)))
    await asyncio.gather(*tasks)
    result.elapsed = time.perf_counter() - start
    return result
