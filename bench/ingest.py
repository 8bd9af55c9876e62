"""Ingest benchmark: `make bench-ingest`.

Serves the console as the README says to in production (python -m alerting_console.serve) on a
database of its own, posts events over real HTTP, and prints each figure next to a baseline
measured in the same run, because absolute numbers on a shared 2-core machine mean little:

- batches of 1, 100 and 512 console events: events/s, p50 and p99 latency, against the same
  rows written straight into Postgres with psycopg COPY (`ratio_512_vs_copy`);
- real LiteLLM bodies (the recorded fixtures, as LiteLLM serializes them) in batches of 512,
  against only parsing the same bodies with the same JSON parser in one process
  (`ratio_litellm_512_vs_parse`);
- single-event posts sent at 500 requests/s: p99 latency (`single_p99_ms_at_500rps`), next to
  the machine's floor at the same rate in alternating rounds: the same client against a server
  that only commits each body (`floor_p99_ms_at_500rps`, bench/floor_server.py), and the
  difference (`single_p99_over_floor_ms`), the part of the tail that is the console's; and
  500/s as a share of the single posts the console takes back to back
  (`single_500rps_of_capacity`): near 1, the tail is a queue's.

The two ratios are each the median of three rounds, each round a baseline and then the
console, so that a slow moment of the machine weighs on both sides of one round. The last
line is JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ensure_database, log  # noqa: E402
from bench.httpload import Result, closed_loop, open_loop  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_ingest"
)
FIXTURES = ROOT / "tests" / "fixtures" / "litellm"
HOST = "127.0.0.1"
SCALE = float(os.environ.get("BENCH_SCALE", "1"))  # < 1 for a quick run
ROUNDS = 3  # of each ratio's measurement and its baseline, alternating


def console_env(var_dir: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DEBUG")}
    env.update(
        DATABASE_URL=DATABASE_URL, SECRET_KEY="bench-only", CONSOLE_VAR_DIR=var_dir,
        BIND=f"{HOST}:{port}", LOG_LEVEL="WARNING",
    )  # fmt: skip
    return env


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True,
    ).stdout  # fmt: skip


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "alerting_console.serve"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://{HOST}:{port}/admin/login/", timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the console did not start")


# The baseline's table: the requests table's columns, constraints and indexes, without the
# triggers that count requests (ingest/rollups.py), so that it stays what it measured before
# them: a plain write of the rows.
BASELINE_TABLE = "bench_copy_baseline"


def truncate() -> None:
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        # Made again every run: the requests' table may have changed since (a column more).
        # A plain table: what a write of the rows costs, the day partitions' routing included
        # in what the console is measured against it.
        conn.execute(f"DROP TABLE IF EXISTS {BASELINE_TABLE}")
        conn.execute(f"CREATE TABLE {BASELINE_TABLE} (LIKE ingest_gatewayrequest INCLUDING ALL)")
        conn.execute(
            f"TRUNCATE ingest_gatewayrequest, ingest_requestdelta, ingest_requestrollup, "
            f"{BASELINE_TABLE}"
        )


LATENCIES = (0.4, 0.9, 1.7, 2.5, 3.8, 6.1, 12.0)


def console_events(count: int) -> list[dict[str, Any]]:
    now = time.time()
    teams = ["team-search", "team-checkout", "team-ads", "team-support"]
    events = []
    for i in range(count):
        failed = i % 10 == 0  # one in ten fails upstream
        # Latencies over several of the counts' bins, and every other request streamed, its
        # first token after a third of it: what makes more keys of the counts' changes.
        latency = LATENCIES[i % len(LATENCIES)]
        events.append({
            "event": "finished", "request_id": str(uuid.uuid4()),
            "status": "failure" if failed else "success",
            "started_at": now - 0.5 - latency, "finished_at": now - 0.5,
            "time_to_first_token_seconds": round(latency / 3, 3) if i % 2 else None,
            "status_code": 503 if failed else None,
            "error_class": "ServiceUnavailableError" if failed else None,
            "model": "openai/gpt-4o-mini", "model_group": "gpt-4o-mini", "provider": "openai",
            "team_id": teams[i % 4], "key_alias": f"service-{i % 20}", "key_hash": "ab" * 32,
            "cost": 0.00042, "prompt_tokens": 120, "completion_tokens": 80, "total_tokens": 200,
        })  # fmt: skip
    return events


def batches(events: list[dict[str, Any]], size: int) -> list[bytes]:
    return [orjson.dumps(events[i : i + size]) for i in range(0, len(events), size)]


def litellm_bodies(requests: int, size: int) -> list[bytes]:
    samples: list[dict[str, Any]] = []
    for path in sorted(FIXTURES.glob("*.json")):
        loaded = json.loads(path.read_text())
        samples.extend(loaded if isinstance(loaded, list) else [loaded])
    now = time.time()
    bodies = []
    for r in range(requests):
        batch = []
        for i in range(size):
            event = dict(samples[(r * size + i) % len(samples)])
            duration = event["endTime"] - event["startTime"]
            event["litellm_call_id"] = event["id"] = str(uuid.uuid4())
            event["startTime"], event["endTime"] = now - duration - 1, now - 1
            batch.append(event)
        bodies.append(json.dumps(batch).encode())  # as LiteLLM posts them: ", " separators
    return bodies


def copy_baseline(rows: int) -> float:
    """Rows/s for the same rows written straight into a table of the same shape with COPY."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alerting_console.settings")
    import django

    django.setup()
    from django.utils import timezone

    from ingest.events import parse_console_event
    from ingest.partitions import key_day
    from ingest.store import COLUMNS, event_values

    now = timezone.now()
    events = [parse_console_event(e, now) for e in console_events(rows)]
    tuples = [
        ("bench", *event_values(e), now, key_day(e.started_at, e.finished_at)) for e in events
    ]
    truncate()
    with psycopg.connect(DATABASE_URL) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        with cur.copy(f"COPY {BASELINE_TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in tuples:
                copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
    return rows / elapsed


def parse_baseline(bodies: list[bytes], per_body: int) -> float:
    started = time.perf_counter()
    for body in bodies:
        orjson.loads(body)
    return len(bodies) * per_body / (time.perf_counter() - started)


def summary(result: Result, events_per_request: int) -> dict[str, float]:
    bad = {s: n for s, n in result.statuses.items() if s != 200}
    if bad:
        log(f"  non-200 answers: {bad}")
    return {
        "events_per_s": round(stored_per_s(result, events_per_request)),
        "p50_ms": round(result.percentile(50) * 1000, 2),
        "p99_ms": round(result.percentile(99) * 1000, 2),
        "requests": sum(result.statuses.values()),
        "failed_requests": sum(bad.values()),
    }


def stored_per_s(result: Result, events_per_request: int) -> float:
    """Events answered 200, per second: an error answer stored nothing and is not throughput."""
    return result.statuses.get(200, 0) * events_per_request / result.elapsed


def main() -> None:
    ensure_database(DATABASE_URL)
    port = free_port()
    with tempfile.TemporaryDirectory() as var_dir:
        env = console_env(var_dir, port)
        manage(env, "migrate", "--noinput", "-v0")
        token = (
            manage(env, "create_ingest_token", f"bench-{uuid.uuid4().hex[:8]}", "--source", "bench")
            .strip()
            .splitlines()[-1]
        )
        os.environ.update(
            DATABASE_URL=DATABASE_URL, SECRET_KEY="bench-only", CONSOLE_VAR_DIR=var_dir
        )
        server = start_server(env, port)
        try:
            figures = run(port, token)
        finally:
            server.terminate()
            server.wait(10)
    print(json.dumps(figures))


def post_all(port: int, token: str, path: str, bodies: list[bytes], concurrency: int) -> Result:
    """Post every body on an empty table, after two to warm up."""
    truncate()
    asyncio.run(closed_loop(HOST, port, token, path, bodies[:2], 2))
    truncate()
    return asyncio.run(closed_loop(HOST, port, token, path, bodies, concurrency))


def merged(results: list[Result]) -> Result:
    total = Result(elapsed=sum(r.elapsed for r in results))
    for result in results:
        total.latencies += result.latencies
        for status, count in result.statuses.items():
            total.statuses[status] = total.statuses.get(status, 0) + count
    return total


def against_baseline(
    baseline: Callable[[], float], measure: Callable[[], Result]
) -> tuple[list[float], list[Result]]:
    """Baseline and measurement in alternating rounds, so that a slow moment of this shared
    machine falls on one round of both rather than on the baseline alone or the console alone."""
    rates, results = [], []
    for _ in range(ROUNDS):
        rates.append(baseline())
        results.append(measure())
    return rates, results


def ratios(results: list[Result], rates: list[float], per_request: int) -> list[float]:
    return [
        round(stored_per_s(r, per_request) / rate, 3)
        for r, rate in zip(results, rates, strict=True)
    ]


def run(port: int, token: str) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    n512 = int(51_200 * SCALE)
    events_path, litellm_path = "/ingest/v1/events", "/ingest/v1/litellm"

    bodies = batches(console_events(n512), 512)
    copy_rates, results = against_baseline(
        lambda: copy_baseline(n512), lambda: post_all(port, token, events_path, bodies, 4)
    )
    figures["copy_rows_per_s"] = round(statistics.median(copy_rates))
    figures["batch_512"] = summary(merged(results), 512)
    figures["ratio_512_vs_copy_rounds"] = ratios(results, copy_rates, 512)
    log(f"baseline COPY: {[round(r) for r in copy_rates]} rows/s")
    log(f"batch 512: {figures['batch_512']}; rounds {figures['ratio_512_vs_copy_rounds']}")

    for size, requests, concurrency in ((100, n512 // 100, 4), (1, int(5000 * SCALE), 8)):
        result = post_all(
            port, token, events_path, batches(console_events(size * requests), size), concurrency
        )
        figures[f"batch_{size}"] = summary(result, size)
        log(f"batch {size}: {figures[f'batch_{size}']}")

    # 60 bodies of 4-5 MB a round: at ~10,000 events/s, three seconds of posting (20 gave one
    # second, which one slow request could move by a quarter).
    bodies = litellm_bodies(max(4, int(60 * SCALE)), 512)
    parse_rates, results = against_baseline(
        lambda: parse_baseline(bodies, 512),
        lambda: post_all(port, token, litellm_path, bodies, 3),
    )
    figures["litellm_parse_events_per_s"] = round(statistics.median(parse_rates))
    figures["litellm_512"] = summary(merged(results), 512)
    figures["ratio_litellm_512_vs_parse_rounds"] = ratios(results, parse_rates, 512)
    figures["litellm_body_kb"] = round(len(bodies[0]) / 512 / 1024, 1)
    log(
        f"litellm 512: {figures['litellm_512']}; parse only: {[round(r) for r in parse_rates]}"
        f" events/s; rounds {figures['ratio_litellm_512_vs_parse_rounds']}"
    )

    # The single-event tail, next to the machine's floor at the same moment: the same client
    # and rate against a server that only commits each body (bench/floor_server.py), in
    # alternating rounds.
    singles = batches(console_events(int(2500 * SCALE)), 1)
    floors, consoles = [], []
    for _ in range(2):
        floors.append(floor_singles(singles))
        truncate()
        consoles.append(
            asyncio.run(
                open_loop(HOST, port, token, events_path, singles, rate=500, connections=32)
            )
        )
    figures["single_at_500rps"] = summary(merged(consoles), 1)
    figures["floor_at_500rps"] = summary(merged(floors), 1)
    log(f"single events at 500 requests/s: {figures['single_at_500rps']}")
    log(f"the machine's floor (a commit per post, no framework): {figures['floor_at_500rps']}")

    figures["ratio_512_vs_copy"] = statistics.median(figures["ratio_512_vs_copy_rounds"])
    figures["ratio_litellm_512_vs_parse"] = statistics.median(
        figures["ratio_litellm_512_vs_parse_rounds"]
    )
    figures["single_p99_ms_at_500rps"] = figures["single_at_500rps"]["p99_ms"]
    figures["floor_p99_ms_at_500rps"] = figures["floor_at_500rps"]["p99_ms"]
    # What the console adds to the machine's tail at that moment.
    figures["single_p99_over_floor_ms"] = round(
        figures["single_p99_ms_at_500rps"] - figures["floor_p99_ms_at_500rps"], 2
    )
    # 500/s as a share of what the console takes of single posts back to back on this machine
    # now: near 1, posts queue and the tail is the queue's (a slower machine, not slower code).
    figures["single_500rps_of_capacity"] = round(500 / figures["batch_1"]["events_per_s"], 2)
    return figures


def floor_singles(bodies: list[bytes]) -> Result:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.floor_server", str(port), DATABASE_URL], cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(closed_loop(HOST, port, "", "/", bodies[:2], 1))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        return asyncio.run(open_loop(HOST, port, "", "/", bodies, rate=500, connections=32))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
