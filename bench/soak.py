"""`make soak`: the console's real processes under a steady load for minutes, for drift.

Several clients post batches of events at a steady rate (SOAK_RATE events a second in all,
SOAK_CLIENTS clients, batches of SOAK_BATCH) while beat evaluates 100 policies every second
(bench/engine.py's set, with windows of 15 to 60 s) and one that pages: every
SOAK_BREACH_EVERY seconds a burst of failures of a new key alias is injected, which must reach
the fake PagerDuty exactly once. It prints, per minute: ingest p50/p99, evaluation duration
(median and max, from the `evaluate` heartbeat), the outbox backlog, and each process's
resident memory; its last line is JSON with `eval_drift` and `rss_drift` (the last minute
over the first, as ratios; rss_drift is the largest of the processes'; the minute before,
while the windows fill, is shown but not compared), `breaches_injected`,
`breaches_paged_once` and `outbox_left`.

SOAK_SECONDS sets the load's length (default 180, the least; an hour: 3600).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from bench import engine
from bench.common import console_environment, log, set_up_django

# Three whole minutes at least: the first fills the windows, drift is from the second on.
SECONDS = max(180, int(os.environ.get("SOAK_SECONDS", "180")))
RATE = int(os.environ.get("SOAK_RATE", "3000"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "4"))
BATCH = int(os.environ.get("SOAK_BATCH", "100"))
BREACH_EVERY = int(os.environ.get("SOAK_BREACH_EVERY", "30"))
BREACH_EVENTS = 25  # over the paging policy's threshold of 20 within 15 s
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_soak")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
DRAIN_SECONDS = 90  # after the load: for the last pages and resolves to be sent
POLICY = "soak breaches"  # the policy that pages
SOAK_WINDOWS = (15, 30, 45, 60)


def prepare() -> str:
    """Empty tables, the 100 policies, the paging policy and its PagerDuty channel; the ingest
    token."""
    from ingest.models import IngestToken
    from policies.models import AlertPolicy, Channel, Route

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE ingest_gatewayrequest, ingest_requestdelta, ingest_requestrollup, "
            "policies_alertpolicy, policies_channel, ingest_ingesttoken CASCADE"
        )
    redis.Redis.from_url(REDIS_URL).flushdb()
    # bench/engine.py's 100 policies, with windows of a minute at most: full from the first
    # whole minute on, so that the minutes compare the console with itself, not windows
    # filling up (an hour's window would be filling for the whole of a short run).
    for n, policy in enumerate(engine.make_policies()):
        policy.window_seconds = SOAK_WINDOWS[n % len(SOAK_WINDOWS)]
        policy.save(update_fields=["window_seconds"])
    channel = Channel.objects.create(name="soak", kind="pagerduty", secret="S" * 32)
    Route.objects.create(scope=Route.Scope.DEFAULT).channels.add(channel)
    AlertPolicy.objects.create(
        name=POLICY, threshold=20, window_seconds=15, group_by="key_alias",
        resolve_hold_seconds=5, filter_team=None,
    )  # fmt: skip
    row = IngestToken(name="soak", source="soak")
    token = row.set_new_token()
    row.save()
    return token


def event(now: float, i: int, **fields: Any) -> dict[str, Any]:
    """A finished request of one of the 777 combinations of team, key alias and model."""
    return {
        "event": "finished",
        "request_id": uuid.uuid4().hex,
        "status": "success",
        "started_at": now - 0.5 - (i % 97) / 10,
        "finished_at": now,
        "team_id": f"team-{i % 7}",
        "key_alias": f"key-{i % 37}",
        "model": f"model-{i % 3}",
        "cost": 0.0001 * (i % 100),
        "total_tokens": i % 1000,
        **fields,
    }


class Load:
    """The clients and the breach injector; what they measured."""

    def __init__(self, url: str, token: str, started: float) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.started = started
        self.timings: list[tuple[float, float]] = []  # (seconds since start, ms)
        self.failures = 0
        self.breaches: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def client(self, number: int) -> None:
        period = BATCH * CLIENTS / RATE  # seconds between this client's batches
        due = time.monotonic() + number * period / CLIENTS
        sequence = number
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=30) as http:
            while not self.stop.is_set():
                time.sleep(max(0.0, due - time.monotonic()))
                now = time.time()
                batch = [event(now, sequence * BATCH + i) for i in range(BATCH)]
                sequence += CLIENTS
                sent = time.monotonic()
                response = http.post("/ingest/v1/events", json=batch)
                took = (time.monotonic() - sent) * 1000
                with self.lock:
                    self.timings.append((sent - self.started, took))
                    if response.status_code != 200:
                        self.failures += 1
                due += period

    def injector(self) -> None:
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=30) as http:
            number = 0
            while not self.stop.wait(BREACH_EVERY):
                if time.monotonic() - self.started > SECONDS - 20:
                    return  # too late to be evaluated before the load stops
                number += 1
                alias = f"breach-{number}"
                now = time.time()
                # As many successes: half failed, under the 100 policies' failure rates
                # (99.9%), so that only the paging policy breaches.
                burst = [
                    event(now, i, key_alias=alias, status="failure", status_code=503)
                    for i in range(BREACH_EVENTS)
                ] + [event(now, i, key_alias=alias) for i in range(BREACH_EVENTS)]
                response = http.post("/ingest/v1/events", json=burst)
                if response.status_code == 200:
                    self.breaches.append(alias)


def resident_kb(pid: int) -> int:
    """The resident memory of a process group (the web server's workers, Celery's children)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            group = int(stat.rsplit(")", 1)[1].split()[2])
            if group != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


def sample(console: Any, load: Load, samples: dict[str, list[tuple[float, float]]]) -> None:
    """Every second: the last evaluation's duration, each process's memory, the outbox."""
    from policies.models import Delivery, Heartbeat

    processes = {
        "web": console.web,
        "engine": console.engine,
        "deliveries": console.worker,
        "beat": console.beat,
    }
    last_at = None
    while not load.stop.is_set():
        at = time.monotonic() - load.started
        beat = Heartbeat.objects.filter(name="evaluate").first()
        if beat is not None and beat.at != last_at:
            last_at = beat.at
            samples["eval_ms"].append((at, beat.duration_seconds * 1000))
        for name, process in processes.items():
            samples[f"rss_kb_{name}"].append((at, resident_kb(process.popen.pid)))
        samples["outbox"].append(
            (at, Delivery.objects.filter(status=Delivery.Status.PENDING).count())
        )
        time.sleep(1)


def by_minute(points: list[tuple[float, float]]) -> dict[int, list[float]]:
    minutes: dict[int, list[float]] = defaultdict(list)
    for at, value in points:
        minutes[int(at // 60)].append(value)
    return minutes


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> None:
    set_up_django(DATABASE_URL, REDIS_URL)
    from policies.models import Delivery
    from tests.e2e.pagerduty_server import PagerDutyServer
    from tests.e2e.processes import Console, free_port

    token = prepare()
    port = free_port()
    tmp = Path(tempfile.mkdtemp())
    samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
    with PagerDutyServer() as pagerduty:
        env = console_environment(DATABASE_URL, REDIS_URL, pagerduty.url, str(tmp), 1, port)
        console = Console(env, tmp, port)
        try:
            console.wait_until_ready()
            load = Load(console.url, token, time.monotonic())
            threads = [
                threading.Thread(target=load.client, args=(n,), daemon=True) for n in range(CLIENTS)
            ]
            threads += [
                threading.Thread(target=load.injector, daemon=True),
                threading.Thread(target=sample, args=(console, load, samples), daemon=True),
            ]
            log(f"soak: {RATE} events/s from {CLIENTS} clients for {SECONDS} s...")
            for thread in threads:
                thread.start()
            time.sleep(SECONDS)
            load.stop.set()
            for thread in threads:
                thread.join(timeout=60)
            deadline = time.monotonic() + DRAIN_SECONDS
            while time.monotonic() < deadline:
                if not Delivery.objects.filter(status=Delivery.Status.PENDING).exists():
                    paged = _paged(pagerduty.fake.events, load.breaches)
                    if all(n >= 1 for n in paged.values()):
                        break
                time.sleep(1)
            outbox_left = Delivery.objects.filter(status=Delivery.Status.PENDING).count()
            rss_end = {
                name: resident_kb(process.popen.pid)
                for name, process in (
                    ("web", console.web),
                    ("engine", console.engine),
                    ("deliveries", console.worker),
                    ("beat", console.beat),
                )
            }
        finally:
            console.stop()
        paged = _paged(pagerduty.fake.events, load.breaches)
    print(report(load, samples, paged, outbox_left, rss_end))


def _paged(events: list[dict[str, Any]], breaches: list[str]) -> dict[str, int]:
    """How many triggers each injected breach's key alias (its incident's group) got from the
    paging policy."""
    counts = dict.fromkeys(breaches, 0)
    for sent in events:
        details = (sent.get("payload") or {}).get("custom_details") or {}
        if (
            sent.get("event_action") == "trigger"
            and details.get("policy") == POLICY
            and details.get("group") in counts
        ):
            counts[details["group"]] += 1
    return counts


def report(
    load: Load,
    samples: dict[str, list[tuple[float, float]]],
    paged: dict[str, int],
    outbox_left: int,
    rss_end: dict[str, int],
) -> str:
    ingest = by_minute(load.timings)
    evals = by_minute(samples["eval_ms"])
    outbox = by_minute(samples["outbox"])
    names = ("web", "engine", "deliveries", "beat")
    rss = {name: by_minute(samples[f"rss_kb_{name}"]) for name in names}
    # Whole minutes of load only: the last posts of a partial one say nothing of drift.
    minutes = [minute for minute in sorted(ingest) if minute < SECONDS // 60]
    log(
        "minute  posts  ingest p50/p99 ms  eval median/max ms  outbox max  "
        "RSS MB (web/engine/deliveries/beat)"
    )
    for minute in minutes:
        memory = "/".join(
            f"{statistics.median(rss[name].get(minute, [0])) / 1024:.0f}" for name in names
        )
        log(
            f"{minute:6d}  {len(ingest[minute]):5d}  "
            f"{statistics.median(ingest[minute]):7.1f}/{p99(ingest[minute]):7.1f}  "
            f"{statistics.median(evals.get(minute, [0])):8.1f}/"
            f"{max(evals.get(minute, [0])):7.1f}  "
            f"{max(outbox.get(minute, [0])):10.0f}  {memory}"
        )
    # The first minute is the windows' filling (up to 60 s): drift is measured from the next.
    first, last = minutes[1], minutes[-1]
    eval_drift = statistics.median(evals[last]) / statistics.median(evals[first])
    rss_drift = max(
        statistics.median(rss[name][last]) / statistics.median(rss[name][first]) for name in names
    )
    figures = {
        "seconds": SECONDS,
        "events_per_s": RATE,
        "ingest_failures": load.failures,
        "eval_drift": round(eval_drift, 3),
        "rss_drift": round(rss_drift, 3),
        "rss_start_mb": {n: round(statistics.median(rss[n][first]) / 1024) for n in names},
        "rss_end_mb": {n: round(kb / 1024) for n, kb in rss_end.items()},
        "breaches_injected": len(load.breaches),
        "breaches_paged_once": sum(1 for n in paged.values() if n == 1),
        "outbox_left": outbox_left,
    }
    return json.dumps(figures)


if __name__ == "__main__":
    main()
