"""What the admin home page shows: open incidents, failures and hangs per team over the last
hours, and delivery health per routing key. Cached briefly: a busy table is not counted on
every page view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Q, Value
from django.db.models.functions import Coalesce, NullIf, TruncHour

from ingest.models import GatewayRequest
from policies.charts import Series, stacked_bars
from policies.models import (
    KIND_DEFAULTS,
    Delivery,
    Incident,
    IncidentStatus,
    PolicyKind,
    RoutingKey,
    Team,
)
from policies.page_state import page_badge, state_of, with_latest_trigger

HOURS = 12
CACHE_SECONDS = 15
MAX_TEAMS = 12


@dataclass(frozen=True)
class KeyHealth:
    key: RoutingKey
    pending: int
    failed_last_day: int  # refused or given up on, and those failing now (retrying)
    last_failure_at: datetime | None  # the last failed attempt, if it is still retrying
    retrying: int = 0  # pending after a failed attempt: PagerDuty has not taken them

    @property
    def healthy(self) -> bool:
        """Red on a refusal, a give-up, or a page that failed and is being retried: two
        transient failures in a row are as much news as a refusal."""
        return (
            self.key.refused_at is None
            and self.failed_last_day == 0
            and self.retrying == 0
            and self.pending < 10
        )


def hour_buckets(now: datetime, hours: int = HOURS) -> list[datetime]:
    """The starts of the last `hours` whole hours, oldest first, the current one last."""
    current = now.replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=h) for h in range(hours - 1, -1, -1)]


def team_series(now: datetime) -> tuple[list[str], list[Series]]:
    buckets = hour_buckets(now)
    since = buckets[0]
    hang_after = timedelta(seconds=KIND_DEFAULTS[PolicyKind.HUNG].duration_seconds or 600)
    team = Coalesce(NullIf("gateway_team_alias", Value("")), NullIf("gateway_team_id", Value("")))
    failures = (
        GatewayRequest.objects.filter(finished_at__gte=since, outcome="failure")
        .annotate(team=team, hour=TruncHour("finished_at"))
        .values("team", "hour")
        .annotate(n=Count("pk"))
    )
    # A request hangs when it runs past LiteLLM's default hang time: counted in the hour it
    # started, whether it finished late or is still running.
    hung = (
        GatewayRequest.objects.filter(started_at__gte=since, started_at__lte=now - hang_after)
        .filter(Q(finished_at__isnull=True) | Q(latency_seconds__gt=hang_after.total_seconds()))
        .annotate(team=team, hour=TruncHour("started_at"))
        .values("team", "hour")
        .annotate(n=Count("pk"))
    )
    index = {bucket: i for i, bucket in enumerate(buckets)}
    names = team_names()
    rows: dict[str, tuple[list[int], list[int]]] = {}
    for kind, query in ((0, failures), (1, hung)):
        for row in query:
            position = index.get(row["hour"])
            if position is None:
                continue
            label = names.get(row["team"] or "", row["team"] or "no team")
            pair = rows.setdefault(label, ([0] * len(buckets), [0] * len(buckets)))
            pair[kind][position] += row["n"]
    series = [Series(label, f, h) for label, (f, h) in rows.items()]
    series.sort(key=lambda s: (-s.total, s.label))
    return [f"{b:%H}:00" for b in buckets], series[:MAX_TEAMS]


def team_names() -> dict[str, str]:
    """The console's name for each gateway team id and alias it knows."""
    names: dict[str, str] = {}
    for name, team_id, alias in Team.objects.values_list(
        "name", "gateway_team_id", "gateway_team_alias"
    ):
        for reference in (team_id, alias):
            if reference:
                names[reference] = name
    return names


FAILED = (Delivery.Status.GAVE_UP, Delivery.Status.REFUSED)
# The predicate of the partial index delivery_not_delivered, word for word, so Postgres uses it.
NOT_DELIVERED = [Delivery.Status.PENDING, *FAILED]


def delivery_counts(now: datetime) -> dict[int, tuple[int, int, datetime | None, int]]:
    """Per routing key id: deliveries pending, failed in the last day (counting those failing
    now), the last failure, and those retrying after a failed attempt. Delivered ones, nearly
    all of a table that is never pruned, are not read (a partial index holds only the others)."""
    day_ago = now - timedelta(days=1)
    failing = Q(status=Delivery.Status.PENDING) & ~Q(last_error="")
    rows = (
        Delivery.objects.filter(status__in=NOT_DELIVERED)
        .values("incident__routing_key_id")
        .annotate(
            # distinct: the attempts joined for last_attempt repeat each delivery's row.
            pending=Count("pk", filter=Q(status=Delivery.Status.PENDING), distinct=True),
            failed=Count(
                "pk",
                filter=Q(status__in=FAILED, finished_at__gte=day_ago) | failing,
                distinct=True,
            ),
            last_finished=Max("finished_at", filter=Q(status__in=FAILED)),
            last_attempt=Max("attempts_made__at", filter=failing),
            retrying=Count("pk", filter=failing, distinct=True),
        )
    )
    return {
        row["incident__routing_key_id"]: (
            row["pending"],
            row["failed"],
            max((t for t in (row["last_finished"], row["last_attempt"]) if t), default=None),
            row["retrying"],
        )
        for row in rows
        if row["incident__routing_key_id"] is not None
    }


def key_health(now: datetime) -> list[KeyHealth]:
    # Only the counts are cached, never the routing keys: a secret stays in the database.
    counts = cache.get("console:delivery-counts")
    if counts is None:
        counts = delivery_counts(now)
        cache.set("console:delivery-counts", counts, CACHE_SECONDS)
    return [
        KeyHealth(key, *counts.get(key.pk, (0, 0, None, 0)))
        for key in RoutingKey.objects.order_by("name")
    ]


def dashboard(now: datetime) -> dict[str, Any]:
    cached = cache.get("console:dashboard")
    if cached is None:
        labels, series = team_series(now)
        cached = {"labels": labels, "series": series, "at": now}
        cache.set("console:dashboard", cached, CACHE_SECONDS)
    scale = max((max([*s.failures, 0]) + max([*s.hung, 0]) for s in cached["series"]), default=1)
    return {
        "open_incidents": open_incidents(),
        "open_count": Incident.objects.filter(status=IncidentStatus.OPEN).count(),
        "chart_hours": HOURS,
        "chart_labels": cached["labels"],
        "chart_rows": [(s, stacked_bars(s, cached["labels"], scale)) for s in cached["series"]],
        "chart_at": cached["at"],
        "key_health": key_health(now),
    }


def open_incidents() -> list[Incident]:
    """The newest open incidents, each with the badge of what happened to its page."""
    incidents = list(
        with_latest_trigger(Incident.objects.filter(status=IncidentStatus.OPEN))
        .select_related("policy", "team")
        .order_by("-detected_at")[:20]
    )
    for incident in incidents:
        incident.page_badge = page_badge(state_of(incident))  # type: ignore[attr-defined]
    return incidents
