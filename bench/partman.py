"""`make bench-partman`: retention as the console does it against pg_partman's, on the same day
of requests, while writers insert (README, "Retention by day": the alternative measured).

Two tables of the console's request shape, partitioned by day: the console's own
(`ingest_gatewayrequest`, whose days ingest/partitions.py creates and drops) and a copy managed
by pg_partman (`partman.create_parent`, daily, which adds its default partition). A day 40 days
old of RETENTION_ROWS LiteLLM-sized requests (bench/retention.py's) is loaded into each and put
out of the OS page cache, as a day a month old is. PARTMAN_WRITERS connections insert single
requests into today's partition of the table being pruned, a transaction each, and each
insert's time is kept. Then, while another connection reads the table for
PARTMAN_READER_SECONDS (2 by default; 0 for none), as a long report or admin page does, the
console drops its day (detach ``CONCURRENTLY``, then drop), and pg_partman its own
(`run_maintenance` with a retention of 30 days, tables not kept). Its last
line is JSON: `console_drop_seconds`, `console_insert_max_ms_during_drop`,
`partman_drop_seconds`, `partman_insert_max_ms_during_drop`, `insert_p99_ms_before`,
`drop_day_gb`, `reader_seconds`, `online_discard` and `pg_partman_version`.

Needs the pg_partman extension installed in the Postgres server (Debian and Ubuntu:
`apt install postgresql-15-partman`, for the server's major version).
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from bench.common import log, set_up_django
from bench.retention import (
    GENERATE,
    database_directory,
    fill_day,
    forget_partition_pages,
    in_flight,
    online_discard,
    p99,
)

ROWS = int(os.environ.get("RETENTION_ROWS", "10000000"))
WRITERS = int(os.environ.get("PARTMAN_WRITERS", "4"))
READER_SECONDS = float(os.environ.get("PARTMAN_READER_SECONDS", "2"))
QUIET_SECONDS = 5
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_partman"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
CONSOLE = "ingest_gatewayrequest"
PARTMAN = "partman_requests"


def partman_child(day: date) -> str:
    return f"{PARTMAN}_p{day:%Y_%m_%d}"


class Writers:
    """Connections inserting one request at a time into today's partition of `parent`."""

    def __init__(self, parent: str) -> None:
        self.parent = parent
        self.timings: list[tuple[float, float]] = []  # (monotonic time sent, ms)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.write, args=(n,)) for n in range(WRITERS)]

    def write(self, number: int) -> None:
        today = datetime.now(UTC).date()
        sql = GENERATE.format(table=self.parent)
        # Ids and request ids of their own: this writer's, this run's.
        n = (number + 1) * 10**16 + time.time_ns() // 1000
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            while not self.stop.is_set():
                n += 1
                sent = time.monotonic()
                conn.execute(sql, {"day": today, "first": n, "last": n, "count": 1})
                with self.lock:
                    self.timings.append((sent, (time.monotonic() - sent) * 1000))
                time.sleep(0.002)

    def read(self) -> None:
        """A query reading the table for READER_SECONDS (someone's report, a long admin
        page), begun just before the drop: the drop must wait for it, and a drop that does so
        holding or asking a lock on the whole table makes the writers wait behind it too."""
        if not READER_SECONDS:
            return
        with psycopg.connect(DATABASE_URL) as conn, conn.transaction():
            conn.execute(f"SELECT 1 FROM {self.parent} LIMIT 1")
            conn.execute("SELECT pg_sleep(%s)", [READER_SECONDS])

    def during(self, start: float, end: float) -> list[float]:
        with self.lock:
            return in_flight(self.timings, start, end)

    def around(self, drop: Callable[[], None]) -> tuple[float, list[float], list[float]]:
        """Run `drop` while writing: its seconds, and the inserts' times before and during."""
        for thread in self.threads:
            thread.start()
        time.sleep(QUIET_SECONDS)
        reader = threading.Thread(target=self.read)
        reader.start()
        time.sleep(0.2 if READER_SECONDS else 0)
        try:
            started = time.monotonic()
            drop()
            ended = time.monotonic()
            reader.join()
            time.sleep(QUIET_SECONDS)
        finally:
            self.stop.set()
            for thread in self.threads:
                thread.join()
        return (
            ended - started,
            self.during(started - QUIET_SECONDS + 1, started),
            self.during(started, ended),
        )


def main() -> None:
    set_up_django(DATABASE_URL, REDIS_URL)
    from ingest import partitions

    today = datetime.now(UTC).date()
    old_day = today - timedelta(days=40)
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        if (
            conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman'"
            ).fetchone()
            is None
        ):
            raise SystemExit(
                "pg_partman is not installed in this Postgres server "
                "(Debian, Ubuntu: apt install postgresql-<major version>-partman)"
            )
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("CREATE SCHEMA IF NOT EXISTS partman")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman")
        row = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_partman'"
        ).fetchone()
        assert row is not None
        version = row[0]
        conn.execute(f"DROP TABLE IF EXISTS {PARTMAN} CASCADE")
        conn.execute(
            "DELETE FROM partman.part_config WHERE parent_table = %s", [f"public.{PARTMAN}"]
        )
        conn.execute(
            f"CREATE TABLE {PARTMAN} (LIKE {CONSOLE} INCLUDING ALL) PARTITION BY RANGE (day)"
        )
        conn.execute(
            "SELECT partman.create_parent(%s, 'day', 'native', 'daily', "
            "p_start_partition := %s, p_jobmon := false)",
            [f"public.{PARTMAN}", str(old_day)],
        )
        conn.execute(
            "UPDATE partman.part_config SET retention = '30 days', retention_keep_table = false "
            "WHERE parent_table = %s",
            [f"public.{PARTMAN}"],
        )
        # pg_partman made every day from the old one on: the empty days retention would drop
        # with it go now, so that each side drops the one day.
        day = old_day + timedelta(days=1)
        while day <= today - timedelta(days=29):
            conn.execute(f"DROP TABLE IF EXISTS {partman_child(day)}")
            day += timedelta(days=1)
        for day in partitions.existing():
            if day < today - timedelta(days=30):
                conn.execute(f"DROP TABLE {partitions.name(day)}")
        partitions.ensure_ahead(datetime.now(UTC))
        log(f"partman {version}: loading a day 40 days old into each table...")
        fill_day(conn, old_day, 1, ROWS)
        fill_day(conn, old_day, 1, ROWS, PARTMAN, partman_child(old_day))
        size = conn.execute(
            "SELECT pg_total_relation_size(%s::regclass)", [partitions.name(old_day)]
        ).fetchone()
        assert size is not None
        for table in (partitions.name(old_day), partman_child(old_day)):
            files = forget_partition_pages(conn, table)
            log(f"  {table}: its {files} files' pages dropped from the OS page cache")
        discard = online_discard(database_directory(conn))

    def console_drop() -> None:
        partitions.drop_before(today - timedelta(days=30))

    def partman_drop() -> None:
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            conn.execute(
                "SELECT partman.run_maintenance(%s, p_jobmon := false)", [f"public.{PARTMAN}"]
            )

    figures: dict[str, Any] = {}
    before: list[float] = []
    for label, parent, drop in (
        ("console", CONSOLE, console_drop),
        ("partman", PARTMAN, partman_drop),
    ):
        seconds, quiet, during = Writers(parent).around(drop)
        before += quiet
        log(
            f"  {label}: dropped in {seconds:.3f} s; inserts during it: {len(during)}, "
            f"p50 {statistics.median(during or [0]):.1f} ms, max {max(during, default=0):.1f} ms"
        )
        figures[f"{label}_drop_seconds"] = round(seconds, 3)
        figures[f"{label}_insert_max_ms_during_drop"] = round(max(during, default=0), 1)
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        for table in (partitions.name(old_day), partman_child(old_day)):
            if conn.execute("SELECT to_regclass(%s)", [table]).fetchone() != (None,):
                raise SystemExit(f"{table} was not dropped")
    figures |= {
        "insert_p99_ms_before": round(p99(before), 1),
        "drop_day_gb": round(size[0] / 1e9, 2),
        "drop_day_rows": ROWS,
        "reader_seconds": READER_SECONDS,
        "online_discard": discard,
        "pg_partman_version": version,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
