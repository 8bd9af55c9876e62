"""Per gateway team and hour: requests finished, failed and hung, for the home page's table.

On Postgres from the request counts (ingest/rollups.py), so that a page view costs the same at
ten requests a second or ten thousand: an hour is its count buckets, and a hung request is one
that finished slower than the hang time (counted in the hour it finished: the counts know
finishes) or is still running past it (in the hour it started: the few requests still running,
through their own index). Elsewhere (the embedded SQLite default) from the request rows, by the
same rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Q
from django.db.models.functions import TruncHour

from ingest import latency, rollups
from ingest.models import GatewayRequest, Outcome

HOUR = 3600


@dataclass(frozen=True)
class HourCount:
    team_id: str
    alias: str
    hour: datetime  # its start
    finished: int
    failed: int
    hung: int


def per_team_and_hour(
    hours: list[datetime], now: datetime, hang_after: timedelta
) -> list[HourCount]:
    """The counts of the whole `hours` (their starts, oldest first, each an hour after the
    last) up to `now`; teams and hours with nothing in them are left out."""
    since = hours[0]
    counted = (
        _from_counts(hours, now, hang_after)
        if connection.vendor == "postgresql"
        else _from_rows(since, hang_after)
    )
    running = (
        GatewayRequest.objects.filter(
            finished_at__isnull=True, started_at__gte=since, started_at__lte=now - hang_after
        )
        .annotate(hour=TruncHour("started_at"))
        .values_list("gateway_team_id", "gateway_team_alias", "hour")
        .annotate(n=Count("pk"))
    )
    still_running = (HourCount(team, alias, hour, 0, 0, n) for team, alias, hour, n in running)
    return [*counted, *still_running]


def _from_counts(
    hours: list[datetime], now: datetime, hang_after: timedelta
) -> Iterator[HourCount]:
    hung_edge = latency.index_of(latency.floor_edge(hang_after.total_seconds()))
    source, params = rollups.window_source(
        hours[0], now, cuts=hours[1:], slower=[latency.LATENCY.edge(hung_edge)]
    )
    # A bucket is labelled by its end: the hour (h, h + 1 h] it belongs to starts at h.
    hour = f"to_timestamp(ceil(extract(epoch FROM bucket) / {HOUR}) * {HOUR} - {HOUR})"
    failed = " + ".join(f"failed_{cls}" for cls in rollups.FAILED_CLASSES)
    # Only our own SQL fragments are spliced in; the window's values are bound parameters.
    sql = (
        f"SELECT gateway_team_id, gateway_team_alias, {hour}, sum(finished), sum({failed}), "  # noqa: S608
        f"COALESCE(sum({latency.column(hung_edge)}), 0) FROM {source} AS counts "
        "GROUP BY 1, 2, 3 HAVING sum(finished) <> 0"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for team, alias, start, finished, failed_count, hung in cursor.fetchall():
            yield HourCount(team, alias, start, int(finished), int(failed_count), int(hung))


def _from_rows(since: datetime, hang_after: timedelta) -> Iterator[HourCount]:
    rows = (
        GatewayRequest.objects.filter(finished_at__gte=since)
        .annotate(hour=TruncHour("finished_at"))
        .values_list("gateway_team_id", "gateway_team_alias", "hour")
        .annotate(
            n=Count("pk"),
            failed=Count("pk", filter=Q(outcome=Outcome.FAILURE)),
            hung=Count("pk", filter=Q(latency_seconds__gt=hang_after.total_seconds())),
        )
    )
    for team, alias, hour, finished, failed, hung in rows:
        yield HourCount(team, alias, hour, finished, failed, hung)
