"""`make bench-retention`: dropping a day of requests while gateways post, against deleting rows
as retention did before day partitions (ingest/partitions.py, ingest/pruning.py).

A day 40 days old is filled with RETENTION_ROWS requests (10 million by default, as large as
LiteLLM's) and another with RETENTION_BASELINE_ROWS (one million: deleting ten million in
batches takes many minutes here). Both are then written out and dropped from the OS page cache,
where a day a month old no longer is (`RETENTION_CACHED=1` keeps them there). The console's
real processes run, and RETENTION_CLIENTS clients post batches of RETENTION_BATCH events at
RETENTION_RATE events a second in all. Then, a few seconds apart: the baseline day's rows are
deleted as before (batches of 5,000, a transaction each), and the old days are dropped as
retention now does. Between the two, the machine's own part is measured: files as large as the
big day's partition, written beforehand on the file system of the database's directory (and out
of the cache as well), are removed (`unlink_seconds`): dropping a day is mostly that. It prints
ingest p50/p99 before and during each; its last line is JSON with `drop_day_seconds` (the
10-million-row day: detaching, `drop_detach_seconds`, and removing its files,
`drop_files_seconds`; `drop_day_gb`), `drop_day_rows`, `ingest_p99_ms_before`,
`ingest_p99_ms_during_drop`, `ingest_max_ms_during_drop`, `unlink_seconds`, `drop_vs_unlink`
and `ingest_p99_ms_during_unlink`, `delete_seconds`, `delete_rows`,
`ingest_p99_ms_during_delete` and `drop_vs_delete_per_row` (the time per row of the drop over
that of the delete), `page_cache` (dropped or kept) and `online_discard`: whether the file
system holding the database trims each extent it frees (ext4's and XFS's `discard` mount
option), which is most of what a drop costs where it is on.

RETENTION_TABLESPACE, a directory owned by the postgres user, puts the benchmark's database in
a tablespace there: to measure on another file system (docs/performance.md shows one mounted
without online discard, as most distributions mount theirs and trim weekly).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg

from bench.common import console_environment, log, set_up_django

if TYPE_CHECKING:
    from ingest.partitions import Dropped

ROWS = int(os.environ.get("RETENTION_ROWS", "10000000"))
BASELINE_ROWS = int(os.environ.get("RETENTION_BASELINE_ROWS", "1000000"))
RATE = int(os.environ.get("RETENTION_RATE", "2000"))
CLIENTS = int(os.environ.get("RETENTION_CLIENTS", "4"))
BATCH = int(os.environ.get("RETENTION_BATCH", "10"))
QUIET_SECONDS = 15  # of load before, between and after the two removals
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_retention"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TABLESPACE = os.environ.get("RETENTION_TABLESPACE", "")
# 1: leave the days just filled in the OS page cache (the drop then frees every cached page).
CACHED = os.environ.get("RETENTION_CACHED", "") == "1"
RETENTION_DAYS = 30

_COLUMNS = (
    "id, source, request_id, started_at, finished_at, outcome, failure_class, latency_seconds, "
    "gateway_team_id, key_alias, model_group, received_at, trace_id, status_code, error_class, "
    "error_code, error_provider, error_message, model, provider, api_base, gateway_team_alias, "
    "key_hash, user_id, org_id, counted_on_insert, day, cost, prompt_tokens, completion_tokens, "
    "total_tokens, time_to_first_token_seconds, deployment_id, region, end_user, request_tags"
)
# Requests of one day as a LiteLLM proxy reports them (bench/scale.py's 7 teams, 37 keys,
# 3 models, 5% failures), as large as its rows are: ids and trace ids are UUIDs, keys and
# deployments are known by 64-character hashes, teams by UUIDs (tests/fixtures/litellm).
# Ids of their own: the table's sequence is not used by a bulk load of the past.
GENERATE = f"""
INSERT INTO {{table}} ({_COLUMNS})
SELECT -i, 'litellm-prod', md5('call' || i)::uuid::text, f - lat * interval '1 second', f,
    CASE WHEN failed THEN 'failure' ELSE 'success' END,
    CASE WHEN failed THEN 'upstream' ELSE '' END, lat,
    md5('team' || i %% 7)::uuid::text, 'key-' || i %% 37, 'gpt-4o-' || i %% 3, f,
    md5('trace' || i)::uuid::text, CASE WHEN failed THEN 503 END,
    CASE WHEN failed THEN 'ServiceUnavailableError' ELSE '' END,
    CASE WHEN failed THEN '503' ELSE '' END, CASE WHEN failed THEN 'azure' ELSE '' END,
    CASE WHEN failed THEN 'litellm.ServiceUnavailableError: AzureException - The service is '
        'temporarily unable to process your request.' ELSE '' END,
    'azure/gpt-4o-' || i %% 3, 'azure',
    'https://prod-eastus-' || i %% 3 || '.openai.azure.com/openai/deployments/gpt-4o',
    'team ' || i %% 7, md5('key' || i %% 37) || md5('hash' || i %% 37),
    'user-' || i %% 37 || '@example.com', '', true, %(day)s::date,
    CASE WHEN failed THEN 0 ELSE 0.0021 END, 850 + i %% 200, CASE WHEN failed THEN 0 ELSE 240 END,
    CASE WHEN failed THEN 850 + i %% 200 ELSE 1090 + i %% 200 END,
    CASE WHEN failed THEN NULL ELSE lat / 4 END,
    md5('deployment' || i %% 3) || md5('model' || i %% 3), 'eastus', 'customer-' || i %% 1000,
    '["prod", "team ' || i %% 7 || '", "User-Agent: openai-python/1.54.0"]'
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i,
    LATERAL (SELECT %(day)s::date + interval '10 seconds'
        + (i - %(first)s) * (interval '86380 seconds' / %(count)s) AS f,
        0.5 + (i %% 97) / 10.0 AS lat, i %% 20 = 0 AS failed) AS row
"""


def fill_day(
    conn: psycopg.Connection[Any],
    day: date,
    first: int,
    count: int,
    parent: str = "",
    table: str = "",
) -> None:
    """The partition of `day` of `parent` (the console's request table by default), named
    `table` (by default as the console names it), holding `count` requests numbered from
    `first`, in place of any partition of that day; loaded as a bulk load is: into a table of
    its own, indexed as it is attached."""
    from ingest import partitions

    parent, table = parent or partitions.TABLE, table or partitions.name(day)
    started = time.perf_counter()
    conn.execute(f"DROP TABLE IF EXISTS {table}")  # a partition too, rows and all
    conn.execute(
        f"CREATE TABLE {table} "
        f"(LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)"
    )
    conn.execute(
        GENERATE.format(table=table),
        {"day": day, "first": first, "last": first + count - 1, "count": count},
    )
    end = day + timedelta(days=1)
    conn.execute(  # builds the parent's indexes on it
        f"ALTER TABLE {parent} ATTACH PARTITION {table} FOR VALUES FROM ('{day}') TO ('{end}')"
    )
    conn.execute(f"VACUUM ANALYZE {table}")
    log(f"  {count:,} requests in {table} in {time.perf_counter() - started:.0f} s")


def in_flight(timings: list[tuple[float, float]], start: float, end: float) -> list[float]:
    """Of (monotonic time sent, ms) timings, the times of those in flight at some moment of
    [start, end]."""
    return [ms for sent, ms in timings if sent <= end and sent + ms / 1000 >= start]


class Load:
    """Clients posting batches at a steady rate; each post's time."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.timings: list[tuple[float, float]] = []  # (monotonic time sent, ms)
        self.failures = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def client(self, number: int) -> None:
        period = BATCH * CLIENTS / RATE
        due = time.monotonic() + number * period / CLIENTS
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=30) as http:
            while not self.stop.is_set():
                time.sleep(max(0.0, due - time.monotonic()))
                now = time.time()
                batch = [
                    {
                        "event": "finished",
                        "request_id": uuid.uuid4().hex,
                        "status": "success",
                        "started_at": now - 1.5,
                        "finished_at": now,
                        "team_id": f"team-{i % 7}",
                    }
                    for i in range(BATCH)
                ]
                sent = time.monotonic()
                response = http.post("/ingest/v1/events", json=batch)
                took = (time.monotonic() - sent) * 1000
                with self.lock:
                    self.timings.append((sent, took))
                    if response.status_code != 200:
                        self.failures += 1
                due += period

    def between(self, start: float, end: float) -> list[float]:
        """The times of the posts in flight at some moment of [start, end]."""
        with self.lock:
            return in_flight(self.timings, start, end)


def p99(values: list[float]) -> float:
    if len(values) < 2:
        return max(values, default=0.0)
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def delete_rows_as_before(day: datetime) -> float:
    """Retention before day partitions: delete the day's rows, 5,000 a transaction (the old
    ingest/pruning.py's batches), through the index of finish times."""
    started = time.perf_counter()
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        while True:
            deleted = conn.execute(
                "DELETE FROM ingest_gatewayrequest WHERE id IN (SELECT id FROM "
                "ingest_gatewayrequest WHERE finished_at < %s LIMIT 5000)",
                [day + timedelta(days=1)],
            ).rowcount
            if deleted < 5000:
                return time.perf_counter() - started


def forget_cached_pages(path: Path) -> None:
    """Drop a written (and synced) file's pages from the OS page cache, as the pages of files
    nobody has read for weeks are gone from it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def forget_partition_pages(conn: psycopg.Connection[Any], table: str) -> int:
    """Write the partition's pages out (a checkpoint) and drop its files, and its indexes',
    from the OS page cache: a day RETENTION_DAYS old is read by nothing (evaluation reads the
    counts), so its pages left the cache long before it is dropped. Truncating a file whose
    pages are cached frees each of them first: about 0.1 s a gigabyte here, most of a drop
    when the day was just written, as the benchmark's is. The number of files."""
    conn.execute("CHECKPOINT")
    rows = conn.execute(
        "SELECT pg_relation_filepath(c.oid), current_setting('data_directory') FROM pg_class c "
        "WHERE c.oid = %(t)s::regclass OR c.oid IN (SELECT indexrelid FROM pg_index "
        "WHERE indrelid = %(t)s::regclass) OR c.oid = (SELECT reltoastrelid FROM pg_class "
        "WHERE oid = %(t)s::regclass) OR c.oid IN (SELECT indexrelid FROM pg_index WHERE "
        "indrelid = (SELECT reltoastrelid FROM pg_class WHERE oid = %(t)s::regclass))",
        {"t": table},
    ).fetchall()
    files = 0
    for relative, data in rows:
        main = Path(data) / relative
        for path in main.parent.iterdir():
            if path.name == main.name or re.fullmatch(rf"{main.name}(\.\d+|_fsm|_vm)", path.name):
                forget_cached_pages(path)
                files += 1
    return files


def database_directory(conn: psycopg.Connection[Any]) -> Path:
    """Where the connected database's tables are: its tablespace's directory, or the data
    directory for the default one."""
    row = conn.execute(
        "SELECT pg_tablespace_location(dattablespace), current_setting('data_directory') "
        "FROM pg_database WHERE datname = current_database()"
    ).fetchone()
    assert row is not None
    return Path(row[0] or row[1])


def online_discard(path: Path) -> bool:
    """Whether the file system holding `path` is mounted with online discard."""
    path = Path(os.path.realpath(path))
    best, options = "", ""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        mount_point, mount_options = fields[4], fields[5]
        super_options = fields[fields.index("-") + 3] if "-" in fields else ""
        inside = str(path) == mount_point or str(path).startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, options = mount_point, f"{mount_options},{super_options}"
    # ext4's and XFS's "discard"; btrfs's "discard=async" (and "=sync").
    return any(o == "discard" or o.startswith("discard=") for o in options.split(","))


class SameBytesOnDisk:
    """Files as large as a partition, in segments of 1 GB as Postgres writes them, on the file
    system of the database's directory: removing them is what dropping the partition asks of
    it."""

    SEGMENT = 1 << 30

    def __init__(self, conn: psycopg.Connection[Any], size: int) -> None:
        data = database_directory(conn)
        self.folder = data.parent / "bench_retention_unlink"
        if not data.exists() or self.folder.parent.stat().st_dev != data.stat().st_dev:
            raise SystemExit(f"{data} is not on this machine's file system: no baseline")
        self.folder.mkdir(exist_ok=True)
        block = b"\x01" * (1 << 20)
        self.files = []
        for n in range(0, size, self.SEGMENT):
            path = self.folder / f"segment.{n // self.SEGMENT}"
            with path.open("wb") as file:
                for _ in range(min(self.SEGMENT, size - n) // len(block)):
                    file.write(block)
                file.flush()
                os.fsync(file.fileno())
            if not CACHED:
                forget_cached_pages(path)
            self.files.append(path)

    def remove(self) -> float:
        started = time.perf_counter()
        for path in self.files:
            path.unlink()
        took = time.perf_counter() - started
        self.folder.rmdir()
        return took


def main() -> None:
    set_up_django(DATABASE_URL, REDIS_URL, TABLESPACE)
    from ingest import partitions
    from ingest.models import IngestToken
    from tests.e2e.pagerduty_server import PagerDutyServer
    from tests.e2e.processes import Console, free_port

    now = datetime.now(UTC)
    big_day = (now - timedelta(days=40)).replace(hour=0, minute=0, second=0, microsecond=0)
    small_day = big_day - timedelta(days=1)
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("TRUNCATE ingest_gatewayrequest, ingest_ingesttoken CASCADE")
        conn.execute("SET maintenance_work_mem = '512MB'")  # for the indexes of the load
        log(f"retention: filling two days {RETENTION_DAYS + 10} days old...")
        fill_day(conn, small_day.date(), 1, BASELINE_ROWS)
        fill_day(conn, big_day.date(), BASELINE_ROWS + 1, ROWS)
        big_table = partitions.name(big_day.date())
        size = conn.execute("SELECT pg_total_relation_size(%s::regclass)", [big_table]).fetchone()
        assert size is not None
        if not CACHED:
            for day in (small_day, big_day):
                files = forget_partition_pages(conn, partitions.name(day.date()))
                log(f"  {day.date()}: its {files} files' pages dropped from the OS page cache")
        directory = database_directory(conn)
        discard = online_discard(directory)
        log(f"  {directory}: online discard {'on' if discard else 'off'}")
        log(f"  writing {size[0] / 1e9:.2f} GB of files beside it...")
        same_bytes = SameBytesOnDisk(conn, int(size[0]))
    row = IngestToken(name="retention", source="retention")
    token = row.set_new_token()
    row.save()

    port = free_port()
    tmp = Path(tempfile.mkdtemp())
    with PagerDutyServer() as pagerduty:
        env = console_environment(DATABASE_URL, REDIS_URL, pagerduty.url, str(tmp), 5, port)
        # The console's own retention must not drop the days before the benchmark does.
        env["REQUEST_RETENTION_DAYS"] = "400"
        console = Console(env, tmp, port)
        try:
            console.wait_until_ready()
            load = Load(console.url, token)
            threads = [
                threading.Thread(target=load.client, args=(n,), daemon=True) for n in range(CLIENTS)
            ]
            log(f"  {RATE} events/s from {CLIENTS} clients, batches of {BATCH}")
            for thread in threads:
                thread.start()
            time.sleep(QUIET_SECONDS)
            quiet = (time.monotonic() - QUIET_SECONDS + 2, time.monotonic())

            delete_started = time.monotonic()
            delete_seconds = delete_rows_as_before(small_day)
            delete_span = (delete_started, time.monotonic())
            log(f"  deleted {BASELINE_ROWS:,} rows as before in {delete_seconds:.1f} s")
            time.sleep(QUIET_SECONDS)

            unlink_started = time.monotonic()
            unlink_seconds = same_bytes.remove()
            unlink_span = (unlink_started, time.monotonic())
            log(f"  removed files of the same size in {unlink_seconds:.3f} s")
            time.sleep(QUIET_SECONDS)

            # What the retention task does with a retention of RETENTION_DAYS (pruning.prune).
            cutoff = partitions.day_of(now) - timedelta(days=RETENTION_DAYS)
            drop_started = time.monotonic()
            dropped = partitions.drop_before(cutoff)
            drop_span = (drop_started, time.monotonic())
            for each in dropped:
                log(
                    f"  dropped {each.day} ({each.size_bytes / 1e9:.2f} GB): detached in "
                    f"{each.detach_seconds:.3f} s, files removed in {each.drop_seconds:.3f} s"
                )
            time.sleep(QUIET_SECONDS)
            load.stop.set()
            for thread in threads:
                thread.join(timeout=60)
        finally:
            console.stop()
    big = next((each for each in dropped if each.day == big_day.date()), None)
    if big is None or big_day.date() in partitions.existing():
        raise SystemExit("the day was not dropped")
    spans = {"before": quiet, "delete": delete_span, "unlink": unlink_span, "drop": drop_span}
    print(report(load, spans, delete_seconds, unlink_seconds, big, discard))


def report(
    load: Load,
    spans: dict[str, tuple[float, float]],
    delete_seconds: float,
    unlink_seconds: float,
    big: Dropped,
    discard: bool,
) -> str:
    before = load.between(*spans["before"])
    during_delete = load.between(*spans["delete"])
    during_unlink = load.between(*spans["unlink"])
    during_drop = load.between(*spans["drop"])
    for name, values in (
        ("before", before),
        ("during the delete", during_delete),
        ("during the removal of files of the same size", during_unlink),
        ("during the drop", during_drop),
    ):
        log(
            f"  ingest {name}: {len(values)} posts, p50 {statistics.median(values):.1f} ms, "
            f"p99 {p99(values):.1f} ms, max {max(values):.1f} ms"
        )
    log(f"  failed posts: {load.failures}")
    drop_seconds = big.detach_seconds + big.drop_seconds
    figures = {
        "drop_day_seconds": round(drop_seconds, 3),
        "drop_detach_seconds": round(big.detach_seconds, 3),
        "drop_files_seconds": round(big.drop_seconds, 3),
        "drop_day_gb": round(big.size_bytes / 1e9, 2),
        "drop_day_rows": ROWS,
        "ingest_p99_ms_before": round(p99(before), 1),
        "ingest_p99_ms_during_drop": round(p99(during_drop), 1),
        "ingest_max_ms_during_drop": round(max(during_drop), 1),
        "unlink_seconds": round(unlink_seconds, 3),
        "drop_vs_unlink": round(drop_seconds / unlink_seconds, 2),
        "ingest_p99_ms_during_unlink": round(p99(during_unlink), 1),
        "delete_seconds": round(delete_seconds, 1),
        "delete_rows": BASELINE_ROWS,
        "ingest_p99_ms_during_delete": round(p99(during_delete), 1),
        "drop_vs_delete_per_row": round(
            (drop_seconds / ROWS) / (delete_seconds / BASELINE_ROWS), 5
        ),
        "failed_posts": load.failures,
        "online_discard": discard,
        "page_cache": "kept" if CACHED else "dropped",
    }
    return json.dumps(figures)


if __name__ == "__main__":
    main()
