"""The machine's floor for one posted event: `python -m bench.floor_server PORT DATABASE_URL`.

A keep-alive HTTP/1.1 server on asyncio streams that answers every POST by committing one row
into a plain table and saying 200: no framework, no parsing, no routing. Posted to at the same
rate by the same client as the console (bench/ingest.py), its latency is what this machine
charges for a request and a commit at that moment (the client, the loopback, the scheduler,
the disk's flush), so that the console's tail can be told apart from the machine's.
"""

from __future__ import annotations

import asyncio
import sys

import psycopg

TABLE = "bench_floor"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


async def serve(port: int, database_url: str) -> None:
    conn = psycopg.connect(database_url, autocommit=True)
    conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, body bytea)")
    conn.execute(f"TRUNCATE {TABLE}")
    lock = asyncio.Lock()  # one connection: the commits take turns, as one worker's would

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                async with lock:
                    # The commit waits for the disk's flush, in a thread so that the other
                    # connections are read meanwhile (as the console's other workers would).
                    await asyncio.to_thread(
                        conn.execute, f"INSERT INTO {TABLE} (body) VALUES (%s)", [body]
                    )
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2]))
