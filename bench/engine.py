"""Engine benchmark: `make bench-engine`.

Prints, next to a baseline measured in the same run:

- evaluation cost: one full evaluation of 100 policies over a table of 1,000,000 requests
  (100,000 in the largest window), against the same counts computed by one hand-written SQL
  query, one GROUP BY per policy (`eval_ms`, `eval_ratio_vs_sql`);
- detection latency: from the HTTP answer to the ingest post that crosses a threshold to the
  fake PagerDuty receiving the trigger, over real processes (web server, Celery worker and
  beat) with an evaluation interval of 1 s (`detection_p50_s`, `detection_p95_s`, `interval_s`);
- the scale phase (bench/scale.py): the same 100 policies over 1 and 10 million requests
  (BENCH_SCALE_SIZES; 100 million on request), `eval_ms_1m`, `eval_ms_10m`, ... next to the
  per-request SQL baseline where it finishes (`sql_ms_1m`, ...), and `scale_rows_max`.

The last line is JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import scale  # noqa: E402
from bench.common import console_environment, ensure_days, log, set_up_django  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_engine"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
LARGEST_WINDOW = 3600  # seconds; ROWS spread over ten of them: 100,000 rows in it
TRIALS = int(os.environ.get("BENCH_TRIALS", "20"))
INTERVAL = 1.0


def prepare_database() -> None:
    set_up_django(DATABASE_URL, REDIS_URL)


def fill_requests(now: datetime) -> None:
    """ROWS requests over the ten largest windows before `now`: teams, keys, models, 5%
    failures, a few hung; counted and folded into the rollups."""
    from ingest import partitions, rollups

    with psycopg.connect(DATABASE_URL) as conn:
        conn.execute(
            "TRUNCATE ingest_gatewayrequest, ingest_requestdelta, ingest_requestrollup, "
            "policies_incidentevent, policies_deliveryattempt, policies_delivery, "
            "policies_incident, policies_policystate, policies_alertpolicy CASCADE"
        )
        span = LARGEST_WINDOW * 10
        columns = (
            "source",
            "request_id",
            "started_at",
            "finished_at",
            "outcome",
            "failure_class",
            "latency_seconds",
            "gateway_team_id",
            "key_alias",
            "model_group",
            "received_at",
            "trace_id",
            "status_code",
            "error_class",
            "error_code",
            "error_provider",
            "error_message",
            "model",
            "provider",
            "api_base",
            "gateway_team_alias",
            "key_hash",
            "user_id",
            "org_id",
            "time_to_first_token_seconds",
            "counted_on_insert",  # counted below, in one statement, as a bulk load would
            "day",
        )
        ensure_days(conn, now - timedelta(seconds=span + 100), now)
        with conn.cursor().copy(
            f"COPY ingest_gatewayrequest ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for i in range(ROWS):
                finished = now - timedelta(seconds=span * i / ROWS)
                latency = 0.5 + (i % 97) / 10
                hung = i % 5000 == 0
                failed = i % 20 == 0
                copy.write_row(
                    (
                        "bench",
                        f"r{i}",
                        finished - timedelta(seconds=latency),
                        None if hung else finished,
                        "" if hung else ("failure" if failed else "success"),
                        "upstream" if failed and not hung else "",
                        None if hung else latency,
                        f"team-{i % 7}",
                        f"key-{i % 37}",
                        f"model-{i % 3}",
                        finished,
                        "",
                        503 if failed else None,
                        "ServiceUnavailableError" if failed else "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        # Every other answer streamed, its first token 0.1 to 3.1 s in.
                        0.1 + (i % 31) / 10 if i % 2 == 0 and not hung else None,
                        True,
                        partitions.day_of(finished - timedelta(seconds=latency)),
                    )
                )
        conn.execute(rollups.count_rows_sql("true"))
        conn.commit()
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        scale.fold_all(conn)
        scale.vacuum(conn)


DURATIONS = {
    "slow": 5.0,
    "hung": 60.0,
    "latency_percentile": 60.0,
    "first_token_percentile": 60.0,
}
PERCENTILES = {"latency_percentile", "first_token_percentile"}


def make_policies() -> list[Any]:
    from policies.models import AlertPolicy

    kinds = ["failures", "failures", "slow", "hung", "failure_rate"]
    groups = ["everything", "team", "key_alias", "model"]
    windows = [60, 120, 300, 600]
    policies = []
    for i in range(100):
        kind = kinds[i % len(kinds)]
        if i % 20 == 7:
            kind = "latency_percentile"  # five of them, p50 to p99, beside the slow ones
        if i % 20 == 13:
            kind = "first_token_percentile"  # five more, of the time to the first token
        if i == 99:
            policies.append(budget_policy())
            continue
        policies.append(
            AlertPolicy(
                name=f"bench {i}",
                kind=kind,
                group_by=groups[i % len(groups)],
                window_seconds=LARGEST_WINDOW if i == 0 else windows[i % len(windows)],
                threshold=10**9,  # counted, never breached: the cost of evaluating, not of paging
                # Slow: half the generated latencies (0.5 to 10 s) are over 5 s. Hung: LiteLLM's
                # default, 60 s (at 5 s, half of all requests would be "hung", and a hung
                # policy reads the requests it counts: docs/rollups.md). Percentiles: over
                # 60 s, which none is (their threshold is the percentile's).
                duration_seconds=DURATIONS.get(kind),
                failure_rate_percent=99.9 if kind == "failure_rate" else None,
                percentile=[50, 90, 95, 99, 99][i // 20] if kind in PERCENTILES else None,
            )
        )
    return AlertPolicy.objects.bulk_create(policies)


def budget_policy() -> Any:
    """Each team's cost over a rolling 30 days, never reached: the read a month's budget costs."""
    from decimal import Decimal

    from policies.models import AlertPolicy

    return AlertPolicy(
        name="bench budget",
        kind="budget",
        group_by="team",
        window_seconds=30 * 86400,
        budget=Decimal("1000000000"),
        budget_unit="usd",
        budget_period="rolling",
        budget_warning_percents="85, 95",
        threshold=85,
        severity="warning",
    )


def hand_written_sql(policies: list[Any], now: datetime) -> float:
    """The same counts as the straightforward SQL a person would write: one GROUP BY per
    policy, in one UNION ALL. The engine reads each window's requests once for all policies
    instead (policies/sharedscan.py), so it can beat this baseline: a ratio under 1."""
    from django.db import connection

    from policies.counting import window_for
    from policies.selection import GROUP_EXPRESSIONS

    parts, params = [], []
    for policy in policies:
        if policy.kind == "budget":
            continue  # a month of rows, which no per-request read does in time: bench/scale.py
        window = window_for(policy, now)
        group = GROUP_EXPRESSIONS[policy.group_by]
        matched = (
            f"SUM(CASE WHEN {window.matched} THEN 1 ELSE 0 END)" if window.matched else "COUNT(*)"
        )
        parts.append(
            f"SELECT {policy.pk}, {group}, {matched}, COUNT(*) FROM ingest_gatewayrequest "
            f"WHERE {window.where} GROUP BY 2"
        )
        params += [*window.matched_params, *window.params]
    sql = " UNION ALL ".join(parts)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.fetchall()
    return (time.perf_counter() - started) * 1000


def evaluation_cost(now: datetime, rows: int = ROWS, baseline: bool = True) -> dict[str, float]:
    """One evaluation of 100 policies (the median of five), and the per-request SQL baseline
    unless told not to run it."""
    from policies.engine import evaluate_all
    from policies.models import AlertPolicy

    AlertPolicy.objects.all().delete()
    policies = make_policies()
    sql_ms, eval_ms = [], []
    evaluate_all(now - timedelta(seconds=1))  # the first evaluation creates each policy's state
    for run in range(5):
        moment = now + timedelta(milliseconds=run)
        if baseline:
            sql_ms.append(hand_written_sql(policies, moment))
        started = time.perf_counter()
        outcomes = evaluate_all(moment)  # what the beat task runs
        eval_ms.append((time.perf_counter() - started) * 1000)
        assert len(outcomes) == len(policies)
    figures = {"eval_ms": round(statistics.median(eval_ms), 1)}
    if baseline:
        figures["sql_ms"] = round(statistics.median(sql_ms), 1)
        figures["eval_ratio_vs_sql"] = round(figures["eval_ms"] / figures["sql_ms"], 2)
    log(f"evaluation of 100 policies over {rows:,} requests: {figures}")
    return figures


def scale_phase() -> dict[str, float]:
    """`eval_ms_1m`, `eval_ms_10m`, ... for the sizes of BENCH_SCALE_SIZES (bench/scale.py)."""
    from django.db import connection

    figures: dict[str, float] = {}
    now = datetime.now(UTC)
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE ingest_gatewayrequest, ingest_requestdelta, ingest_requestrollup, "
            "policies_incidentevent, policies_deliveryattempt, policies_delivery, "
            "policies_incident, policies_policystate, policies_alertpolicy CASCADE"
        )
        stored = 0
        for size in scale.SIZES:
            log(f"scale: growing to {size:,} requests...")
            scale.grow(conn, stored, size, now)
            stored = size
            connection.close()  # a fresh connection: no plan cached for a smaller table
            measured = evaluation_cost(now, size, baseline=size <= scale.SQL_MAX)
            name = scale.size_name(size)
            figures[f"eval_ms_{name}"] = measured["eval_ms"]
            if "sql_ms" in measured:
                figures[f"sql_ms_{name}"] = measured["sql_ms"]
            figures["scale_rows_max"] = size
        log("budget: a month of spend...")
        stored = scale.grow_month(conn, now)
        figures["budget_30d_ms"] = scale.budget_read_ms(conn, now)
        log(f"  each team's spend over 30 days, {stored:,} requests stored: {figures}")
        # The 100 policies again, their budget's 30 days now full of requests.
        connection.close()
        figures["eval_ms_30d"] = evaluation_cost(now, stored, baseline=False)["eval_ms"]
    return figures


def detection_latency() -> dict[str, float]:

    from policies.models import AlertPolicy, Channel, Route
    from tests.e2e.pagerduty_server import PagerDutyServer
    from tests.e2e.processes import Console, free_port

    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE ingest_gatewayrequest, ingest_requestdelta, ingest_requestrollup, "
            "policies_alertpolicy, policies_channel, ingest_ingesttoken CASCADE"
        )
    redis.Redis.from_url(REDIS_URL).flushdb()
    key = Channel.objects.create(name="bench", kind="pagerduty", secret="B" * 32)
    Route.objects.create(scope=Route.Scope.DEFAULT).channels.add(key)
    AlertPolicy.objects.create(
        name="bench failures", threshold=3, window_seconds=30, group_by="key_alias"
    )
    from ingest.models import IngestToken

    row = IngestToken(name="bench", source="bench")
    token = row.set_new_token()
    row.save()

    port = free_port()
    tmp = Path(tempfile.mkdtemp())
    latencies = []
    with PagerDutyServer() as pagerduty:
        env = console_environment(DATABASE_URL, REDIS_URL, pagerduty.url, str(tmp), INTERVAL, port)
        console = Console(env, tmp, port)
        try:
            console.wait_until_ready()
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
            ) as client:
                for trial in range(TRIALS):
                    now = time.time()
                    events = [
                        {
                            "event": "finished",
                            "request_id": f"t{trial}-{i}-{uuid.uuid4().hex[:6]}",
                            "status": "failure",
                            "finished_at": now,
                            "status_code": 503,
                            "key_alias": f"trial-{trial}",
                        }
                        for i in range(3)
                    ]
                    seen = len(pagerduty.fake.events)
                    response = client.post("/ingest/v1/events", json=events)
                    answered = time.monotonic()
                    assert response.status_code == 200, response.text
                    deadline = answered + 30
                    while len(pagerduty.fake.events) == seen and time.monotonic() < deadline:
                        time.sleep(0.01)
                    latencies.append(time.monotonic() - answered)
                    time.sleep(0.5 + (trial % 5) * 0.2)  # land at different points of the interval
        finally:
            console.stop()
    latencies.sort()
    figures = {
        "detection_p50_s": round(statistics.median(latencies), 3),
        "detection_p95_s": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 3),
        "interval_s": INTERVAL,
        "trials": len(latencies),
    }
    log(f"detection latency: {figures}")
    return figures


def main() -> None:
    prepare_database()
    now = datetime.now(UTC)
    log(f"filling {ROWS} requests...")
    fill_requests(now)
    figures = evaluation_cost(now)
    figures |= detection_latency()
    figures |= scale_phase()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
