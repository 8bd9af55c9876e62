"""What the admin home page shows: open incidents, per team the share of requests that failed
or hung over the last hours (and the teams the gateway sends that the console does not know),
and delivery health per routing key. Cached briefly: a busy table is not counted on
every page view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Min, Q
from django.utils.http import urlencode
from django.utils.text import slugify

from policies import team_key
from policies.charts import Series, stacked_bars, time_axis
from policies.models import (
    KIND_DEFAULTS,
    Channel,
    Delivery,
    Incident,
    IncidentStatus,
    PolicyKind,
    Team,
)
from policies.page_state import page_badge, state_of, with_pages
from policies.team_hours import per_team_and_hour
from policies.team_key import TeamIndex

HOURS = 12
CACHE_SECONDS = 15
MAX_TEAMS = 12


@dataclass(frozen=True)
class ChannelHealth:
    channel: Channel
    pending: int
    failed_last_day: int  # refused or given up on, and those failing now (retrying)
    last_failure_at: datetime | None  # the last failed attempt, if it is still retrying
    retrying: int = 0  # pending after a failed attempt: the service has not taken them

    @property
    def healthy(self) -> bool:
        """Red on a refusal, a give-up, or a page that failed and is being retried: two
        transient failures in a row are as much news as a refusal."""
        return (
            not self.channel.disabled
            and self.channel.refused_at is None
            and self.failed_last_day == 0
            and self.retrying == 0
            and self.pending < 10
        )


def hour_buckets(now: datetime, hours: int = HOURS) -> list[datetime]:
    """The starts of the last `hours` whole hours, oldest first, the current one last."""
    current = now.replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=h) for h in range(hours - 1, -1, -1)]


@dataclass(frozen=True)
class TeamRow:
    """One team's line on the home page. `team_pk` is None for a team the gateway sends that
    the console does not know: its gateway id and alias are offered for a new team."""

    series: Series
    team_pk: int | None
    gateway_team_id: str = ""
    gateway_team_alias: str = ""
    open_incidents: int = 0
    open_since: datetime | None = None
    # A console team known by this row's alias only: this row's id is probably its own.
    alias_of: tuple[int, str] | None = None

    @property
    def finished(self) -> int:
        return sum(self.series.finished)

    @property
    def failed(self) -> int:
        return sum(self.series.failures)

    @property
    def hung(self) -> int:
        return sum(self.series.hung)

    @property
    def failure_rate(self) -> float | None:
        """Failed out of finished requests: what tells a team in trouble from a busy one."""
        return self.failed / self.finished if self.finished else None

    @property
    def failure_percent(self) -> str:
        rate = self.failure_rate
        return "—" if rate is None else f"{rate:.1%}"

    @property
    def unknown(self) -> bool:
        return self.team_pk is None and bool(self.gateway_team_id or self.gateway_team_alias)

    @property
    def create_query(self) -> str:
        """The team add form's fields, filled in with what the gateway sends."""
        name = self.gateway_team_alias or self.gateway_team_id
        return urlencode(
            {
                "name": name,
                "slug": slugify(name),
                "gateway_team_id": self.gateway_team_id,
                "gateway_team_alias": self.gateway_team_alias,
            }
        )


def team_rows(now: datetime) -> tuple[list[str], list[TeamRow]]:
    """Per team, per hour of the last HOURS: requests finished, failed, and hung
    (policies/team_hours.py: from the request counts on Postgres)."""
    buckets = hour_buckets(now)
    hang_after = timedelta(seconds=KIND_DEFAULTS[PolicyKind.HUNG].duration_seconds or 600)
    index = {bucket: i for i, bucket in enumerate(buckets)}
    teams = list(Team.objects.all())
    names = {team.pk: team.name for team in teams}
    owners = TeamIndex((team.pk, team) for team in teams)
    by_alias_only = {
        t.gateway_team_alias: (t.pk, t.name)
        for t in teams
        if t.gateway_team_alias and not t.gateway_team_id
    }
    # Keyed by the console's team, or by the team key of a team it does not know, for which
    # the gateway's id and alias are kept to offer a new team.
    counts: dict[int | str, tuple[list[int], list[int], list[int]]] = {}
    sent: dict[str, tuple[str, str]] = {}
    for row in per_team_and_hour(buckets, now, hang_after):
        position = index.get(row.hour)
        if position is None:
            continue
        key: int | str | None = owners.find(row.team_id, row.alias)
        if key is None:
            key = team_key.key_of(row.team_id, row.alias)
            if not sent.get(key, ("", ""))[1]:
                sent[key] = (row.team_id, row.alias)
        failures, hung, finished = counts.setdefault(
            key, ([0] * len(buckets), [0] * len(buckets), [0] * len(buckets))
        )
        failures[position] += row.failed
        hung[position] += row.hung
        finished[position] += row.finished
    incidents = open_per_team()
    rows = []
    for key, (failures, hung_counts, finished_counts) in counts.items():
        if isinstance(key, int):
            series = Series(names[key], failures, hung_counts, finished_counts)
            rows.append(TeamRow(series, key, "", "", *incidents.get(key, (0, None))))
        else:
            team_id, alias = sent[key]
            label = f"{alias} ({team_id})" if alias and team_id else alias or team_id or "no team"
            series = Series(label, failures, hung_counts, finished_counts)
            claimant = by_alias_only.get(alias) if team_id else None
            rows.append(TeamRow(series, None, team_id, alias, alias_of=claimant))
    rows.sort(key=lambda r: (-(r.failure_rate or 0), -r.hung, -r.finished, r.series.label))
    return [f"{b:%H}:00" for b in buckets], rows[:MAX_TEAMS]


def open_per_team() -> dict[int, tuple[int, datetime | None]]:
    """Per team: its open incidents and when the oldest of them was detected."""
    rows = (
        Incident.objects.filter(status=IncidentStatus.OPEN, team__isnull=False)
        .values("team")
        .annotate(n=Count("pk"), since=Min("detected_at"))
    )
    return {row["team"]: (row["n"], row["since"]) for row in rows}


FAILED = (Delivery.Status.GAVE_UP, Delivery.Status.REFUSED)
# The predicate of the partial index delivery_not_delivered, word for word, so Postgres uses it.
NOT_DELIVERED = [Delivery.Status.PENDING, *FAILED]


def delivery_counts(now: datetime) -> dict[int, tuple[int, int, datetime | None, int]]:
    """Per channel id: deliveries pending, failed in the last day (counting those failing
    now), the last failure, and those retrying after a failed attempt. Delivered ones, nearly
    all of a table that is never pruned, are not read (a partial index holds only the others)."""
    day_ago = now - timedelta(days=1)
    failing = Q(status=Delivery.Status.PENDING) & ~Q(last_error="")
    rows = (
        Delivery.objects.filter(status__in=NOT_DELIVERED)
        .values("channel_id")
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
        row["channel_id"]: (
            row["pending"],
            row["failed"],
            max((t for t in (row["last_finished"], row["last_attempt"]) if t), default=None),
            row["retrying"],
        )
        for row in rows
        if row["channel_id"] is not None
    }


def channel_health(now: datetime) -> list[ChannelHealth]:
    # Only the counts are cached, never the channels: a secret stays in the database.
    counts = cache.get("console:delivery-counts")
    if counts is None:
        counts = delivery_counts(now)
        cache.set("console:delivery-counts", counts, CACHE_SECONDS)
    return [
        ChannelHealth(channel, *counts.get(channel.pk, (0, 0, None, 0)))
        for channel in Channel.objects.order_by("name")
    ]


def dashboard(now: datetime) -> dict[str, Any]:
    cached = cache.get("console:dashboard")
    if cached is None:
        labels, rows = team_rows(now)
        cached = {"labels": labels, "rows": rows, "at": now}
        cache.set("console:dashboard", cached, CACHE_SECONDS)
    return {
        "open_incidents": open_incidents(),
        "open_count": Incident.objects.filter(status=IncidentStatus.OPEN).count(),
        "chart_hours": HOURS,
        "chart_labels": cached["labels"],
        "chart_rows": [(r, stacked_bars(r.series, cached["labels"])) for r in cached["rows"]],
        "chart_axis": time_axis(cached["labels"]),
        "chart_at": cached["at"],
        "channel_health": channel_health(now),
    }


def open_incidents() -> list[Incident]:
    """The newest open incidents, each with the badge of what happened to its page."""
    incidents = list(
        with_pages(Incident.objects.filter(status=IncidentStatus.OPEN))
        .select_related("policy", "team")
        .order_by("-detected_at")[:20]
    )
    for incident in incidents:
        incident.page_badge = page_badge(state_of(incident))  # type: ignore[attr-defined]
    return incidents
