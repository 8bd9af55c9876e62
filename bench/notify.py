"""Notification benchmark: `make bench-notify`.

Three channels (PagerDuty, Slack with a bot token, a signed webhook) on every incident, against
the contract-checking fakes of tests/fakes served over HTTP on 127.0.0.1. Prints, next to a
baseline measured in the same run:

- fan-out: BENCH_INCIDENTS incidents (1,000) open in one evaluation, 3 deliveries each, sent
  by the console's real processes (web server, both Celery workers, beat) as production runs
  them; deliveries per second from the first call to the last delivery, next to the same
  messages posted directly, one after another, by one client in this process (each kind's
  own send code, no database, no queue): `notify_per_s`, `direct_per_s`,
  `notify_ratio_vs_direct`;
- latency: a steady trickle of incidents (BENCH_PACED_INCIDENTS over about 30 s, with the
  evaluation interval at 1 s), from each incident's transition (the moment the engine recorded
  it) to its last channel's delivery: `fanout_p50_s`, `fanout_p95_s`; and for the burst above,
  the time the last of its 3,000 deliveries took (`burst_drain_s`).

The last line is JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import log, set_up_django  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_notify"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
INCIDENTS = int(os.environ.get("BENCH_INCIDENTS", "1000"))
PACED = int(os.environ.get("BENCH_PACED_INCIDENTS", "60"))
PACED_SECONDS = 30.0
INTERVAL = 1.0
TOKEN = "xoxb-bench-0000-token"  # noqa: S105 - the fake Slack's, for the benchmark
SLACK_CHANNEL = "C0BENCH001"
KEY = "B" * 32


def prepare_database() -> None:
    set_up_django(
        DATABASE_URL,
        REDIS_URL,
        NOTIFY_ALLOW_HTTP="true",
        NOTIFY_ALLOWED_PRIVATE_NETWORKS="127.0.0.1/32",
        LOG_LEVEL="WARNING",
    )
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE ingest_gatewayrequest, policies_incidentevent, policies_deliveryattempt, "
            "policies_delivery, policies_inboxmessage, policies_incident, policies_policystate, "
            "policies_alertpolicy, policies_route, policies_channel CASCADE"
        )
    redis.Redis.from_url(REDIS_URL).flushdb()


class Fakes:
    def __init__(self) -> None:
        from policies.channels.webhook import new_signing_secret
        from tests.e2e.fake_server import FakeServer
        from tests.fake_pagerduty import FakePagerDuty
        from tests.fakes.slack import FakeSlack
        from tests.fakes.webhook import FakeReceiver

        self.signing_secret = new_signing_secret()
        self.pagerduty = FakePagerDuty()
        self.slack = FakeSlack()
        self.hooks = FakeReceiver(secret=self.signing_secret)
        self.servers = [FakeServer(f.handle) for f in (self.pagerduty, self.slack, self.hooks)]
        for server in self.servers:
            server.__enter__()
        pd, slack, hooks = self.servers
        self.pagerduty_url = f"{pd.base}/v2/enqueue"
        self.slack.api_base = f"{slack.base}/api"
        self.slack.add_token(TOKEN)
        self.slack.add_channel(SLACK_CHANNEL)
        self.hooks_url = f"{hooks.base}/alerts"

    def delivered(self) -> int:
        return len(self.pagerduty.events) + len(self.slack.messages) + len(self.hooks.bodies)

    def close(self) -> None:
        for server in self.servers:
            server.__exit__()


def direct_rate(fakes: Fakes) -> float:
    """The same messages, posted one after another by one client: each kind's own send code
    (message built, signed, posted, answer read), without the database or the queue."""
    from django.conf import settings

    from policies import channels
    from policies.channels.base import Target
    from tests.notices import make_notice

    settings.PAGERDUTY_EVENTS_URL = fakes.pagerduty_url
    settings.SLACK_API_URL = fakes.slack.api_base
    targets = [
        ("pagerduty", Target(1, "pd", KEY)),
        ("slack", Target(2, "slack", TOKEN, {"channel": SLACK_CHANNEL})),
        ("webhook", Target(3, "hooks", fakes.hooks_url, {}, fakes.signing_secret)),
    ]
    started = time.perf_counter()
    for i in range(INCIDENTS):
        notice = make_notice(incident_id=i + 1, dedup_key=f"direct/{i}", delivery_id=i + 1)
        for kind, target in targets:
            result = channels.kind_of(kind).deliver(notice, target, "")
            assert result.accepted, (kind, result)
    took = time.perf_counter() - started
    rate = 3 * INCIDENTS / took
    log(f"direct: {3 * INCIDENTS} messages in {took:.1f} s: {rate:.0f}/s")
    return rate


def set_up_channels(fakes: Fakes) -> None:
    from policies.models import AlertPolicy, Channel, Route

    made = [
        Channel.objects.create(name="bench pagerduty", kind="pagerduty", secret=KEY),
        Channel.objects.create(
            name="bench slack",
            kind="slack",
            secret=TOKEN,
            public_settings={"channel": SLACK_CHANNEL},
        ),
        Channel.objects.create(
            name="bench hooks",
            kind="webhook",
            secret=fakes.hooks_url,
            signing_secret=fakes.signing_secret,
        ),
    ]
    Route.objects.create(scope=Route.Scope.DEFAULT).channels.set(made)
    # One incident per key alias; none resolves while measured.
    AlertPolicy.objects.create(
        name="bench", threshold=1, window_seconds=3600, group_by="key_alias",
        resolve_hold_seconds=3600,
    )  # fmt: skip


def add_failures(aliases: list[str]) -> None:
    from ingest.models import GatewayRequest

    now = datetime.now(UTC)
    GatewayRequest.objects.bulk_create(
        GatewayRequest(
            source="bench",
            request_id=f"r-{alias}",
            finished_at=now,
            outcome="failure",
            failure_class="upstream",
            received_at=now,
            key_alias=alias,
        )
        for alias in aliases
    )


def delivered_count() -> int:
    from policies.models import Delivery

    return Delivery.objects.filter(status=Delivery.Status.DELIVERED).count()


def per_incident_latency(prefix: str) -> list[float]:
    """From each incident's transition (noticed_at) to its last channel's delivery."""
    from django.db.models import Max

    from policies.models import Incident

    rows = (
        Incident.objects.filter(group_key__startswith=prefix)
        .annotate(last=Max("deliveries__finished_at"))
        .values_list("noticed_at", "last")
    )
    return sorted((last - noticed).total_seconds() for noticed, last in rows)


def console_figures(fakes: Fakes) -> dict[str, Any]:
    from policies.models import Delivery, DeliveryAttempt, Incident
    from tests.e2e.live import wait_until
    from tests.e2e.processes import Console, child_environment, free_port

    port = free_port()
    tmp = Path(tempfile.mkdtemp())
    env = child_environment(
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        SECRET_KEY="bench-only",
        PAGERDUTY_EVENTS_URL=fakes.pagerduty_url,
        SLACK_API_URL=fakes.slack.api_base,
        NOTIFY_ALLOW_HTTP="true",
        NOTIFY_ALLOWED_PRIVATE_NETWORKS="127.0.0.1/32",
        CONSOLE_VAR_DIR=str(tmp),
        EVALUATION_INTERVAL_SECONDS=str(INTERVAL),
        BIND=f"127.0.0.1:{port}",
        LOG_LEVEL="WARNING",
    )
    console = Console(env, tmp, port)
    try:
        console.wait_until_ready()
        # The burst: INCIDENTS incidents in one evaluation, three deliveries each.
        add_failures([f"burst-{i}" for i in range(INCIDENTS)])
        wait_until(lambda: delivered_count() >= 3 * INCIDENTS, 600, "the burst's deliveries")
        burst = Delivery.objects.filter(incident__group_key__startswith="burst-")
        first = Incident.objects.filter(group_key__startswith="burst-").earliest("noticed_at")
        last = burst.latest("finished_at").finished_at
        sending_from = DeliveryAttempt.objects.filter(delivery__in=burst).earliest("at").at
        assert last is not None
        # The sending rate: from the first call to the last delivery. The drain below also
        # counts the evaluation that opened the incidents and wrote their deliveries.
        sending = (last - sending_from).total_seconds()
        took = (last - first.noticed_at).total_seconds()
        notify_rate = 3 * INCIDENTS / sending
        log(
            f"console: {3 * INCIDENTS} deliveries sent in {sending:.1f} s: {notify_rate:.0f}/s; "
            f"{took:.1f} s from the first incident recorded to the last delivery"
        )

        # The trickle: PACED incidents spread over PACED_SECONDS.
        pause = PACED_SECONDS / PACED
        for i in range(PACED):
            add_failures([f"paced-{i}"])
            time.sleep(pause)
        wait_until(
            lambda: delivered_count() >= 3 * (INCIDENTS + PACED), 120, "the paced deliveries"
        )
        paced = per_incident_latency("paced-")
        log(f"paced: {len(paced)} incidents, transition to last delivery: {paced[:3]}...")
    finally:
        console.stop()
    assert Delivery.objects.exclude(status=Delivery.Status.DELIVERED).count() == 0
    return {
        "notify_per_s": round(notify_rate, 1),
        "burst_drain_s": round(took, 2),
        "fanout_p50_s": round(statistics.median(paced), 3),
        "fanout_p95_s": round(paced[min(len(paced) - 1, int(0.95 * len(paced)))], 3),
        "paced_incidents": len(paced),
    }


def main() -> None:
    prepare_database()
    fakes = Fakes()
    try:
        direct = direct_rate(fakes)
        fakes.pagerduty.events.clear()
        fakes.slack.messages.clear()
        fakes.hooks.bodies.clear()
        set_up_channels(fakes)
        figures = console_figures(fakes)
        # Every message arrived once: 3 per incident, no more.
        sent = fakes.delivered()
        assert sent == 3 * (INCIDENTS + PACED), sent
    finally:
        fakes.close()
    figures = {
        "incidents": INCIDENTS,
        "channels_per_incident": 3,
        "direct_per_s": round(direct, 1),
        **figures,
        "interval_s": INTERVAL,
    }
    figures["notify_ratio_vs_direct"] = round(figures["notify_per_s"] / direct, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
