"""``GET /metrics`` for Prometheus: the ingest counters of this host's web processes, and
what the database knows (open incidents, the outbox, deliveries, the last evaluation), read at
scrape time so that every replica reports the same, and nothing is lost on a restart."""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

import ingest.metrics  # noqa: F401 - registers the ingest counters
from policies import channels as channel_kinds
from policies.models import Channel, Delivery, Heartbeat, Incident, IncidentStatus, Severity

DELIVERY_COUNTS_CACHE_SECONDS = 15


class DatabaseCollector(Collector):
    """What the database knows. While it is down the scrape still answers, with the ingest
    counters, which say most during that outage, and `console_database_up` 0."""

    def collect(self) -> Iterator[Metric]:
        try:
            metrics = list(self._from_database())
        except DatabaseError:
            metrics = []
        yield GaugeMetricFamily(
            "console_database_up",
            "1 when the database answered this scrape's queries; 0: the metrics read from it "
            "are missing from this scrape.",
            value=1 if metrics else 0,
        )
        yield from metrics

    def _from_database(self) -> Iterator[Metric]:
        open_incidents = GaugeMetricFamily(
            "console_open_incidents", "Incidents open now, by severity.", labels=["severity"]
        )
        by_severity = dict(
            Incident.objects.filter(status=IncidentStatus.OPEN)
            .values_list("severity")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for severity in Severity.values:  # every one, 0 included: a series must not vanish
            open_incidents.add_metric([severity], by_severity.get(severity, 0))
        yield open_incidents

        deliveries = GaugeMetricFamily(
            "console_deliveries",
            "Deliveries to channels (triggers, renotifies, resolves) by outcome, as recorded.",
            labels=["status"],
        )
        counts = _delivery_counts()
        for status in Delivery.Status.values:
            deliveries.add_metric([status], counts.get(status, 0))
        yield deliveries

        pending = Delivery.objects.filter(status=Delivery.Status.PENDING).aggregate(
            n=Count("pk"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily(
            "console_outbox_backlog", "Deliveries waiting to be sent.", value=pending["n"]
        )
        oldest = pending["oldest"]
        age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "console_outbox_oldest_seconds",
            "Age of the oldest delivery waiting to be sent (0: none waits).",
            value=age,
        )

        channels = GaugeMetricFamily(
            "console_channels_disabled",
            "Channels disabled after refusing messages repeatedly: nothing is sent to them "
            "until a person enables them again. Alert on anything above 0.",
            labels=["kind"],
        )
        disabled = dict(
            Channel.objects.exclude(disabled_at=None)
            .values_list("kind")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for kind in channel_kinds.KINDS:  # every one, 0 included: a series must not vanish
            channels.add_metric([kind], disabled.get(kind, 0))
        yield channels

        beat = Heartbeat.objects.filter(name="evaluate").first()
        yield GaugeMetricFamily(
            "console_evaluation_duration_seconds",
            "How long the last evaluation of every policy took.",
            value=beat.duration_seconds if beat else 0.0,
        )
        yield GaugeMetricFamily(
            "console_evaluation_last_run_timestamp_seconds",
            "When the last evaluation ran (Unix time; 0: never).",
            value=beat.at.timestamp() if beat else 0.0,
        )


def _delivery_counts() -> dict[str, int]:
    """Deliveries by status. The table is never pruned (it is incident history), so the
    count is cached briefly: scrapes every few seconds do not scan it every time."""
    cached: dict[str, int] | None = cache.get("console:metrics:deliveries")
    if cached is None:
        rows = Delivery.objects.values_list("status").annotate(n=Count("pk")).order_by()
        cached = dict(rows)
        cache.set("console:metrics:deliveries", cached, DELIVERY_COUNTS_CACHE_SECONDS)
    return cached


class _ThisProcess(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call] # the counters of every web worker on this host
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    return registry


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            response = HttpResponse("a bearer token is required\n", status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
