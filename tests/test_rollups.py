"""Rollups count exactly what the request rows say: for random streams of starts, finishes,
repeats and late descriptive fields, stored through the real ingest paths (one upsert, the COPY
of fresh rows, the merge of a staged batch), folded or not, for random windows, groups and
filters (ingest/rollups.py, docs/rollups.md)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import latency, rollups, store
from ingest.events import Event
from ingest.models import GatewayRequest, RequestDelta, RequestRollup
from ingest.store import VALUES_BATCH_LIMIT, store_events
from policies.models import GroupBy
from policies.selection import GROUP_EXPRESSIONS

# A whole hour, so that windows around it cross hour, minute and second edges.
T0 = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
SPREAD = 3 * 3600  # events finish within T0 ± 1.5 h


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- the window as buckets: pure ------------------------------------------------------------


whole_seconds = st.integers(-2 * SPREAD, 2 * SPREAD).map(lambda s: at(s))


@given(start=whole_seconds, length=st.integers(0, 3 * 86400))
def test_the_spans_of_a_window_cover_it_exactly_once_with_few_buckets(start, length):
    end = start + timedelta(seconds=length)

    spans = rollups.spans(start, end)

    edge = start
    buckets = 0
    for span in sorted(spans, key=lambda s: s.after):
        assert span.after == edge  # contiguous: no second missed, none counted twice
        for moment in (span.after, span.until):
            assert int((moment - rollups.EPOCH).total_seconds()) % span.level == 0
        buckets += int((span.until - span.after).total_seconds()) // span.level
        edge = span.until
    assert edge == end or (not spans and length == 0)
    # At either edge at most 9 seconds, 5 tens of seconds, 9 minutes and 5 tens of minutes.
    assert buckets <= 2 * (9 + 5 + 9 + 5) + length // 3600


@pytest.mark.parametrize(
    ("age", "finest"),
    [
        (timedelta(minutes=1), 1),
        (timedelta(hours=1, minutes=59), 1),  # seconds kept 3 hours, with an hour to spare
        (timedelta(hours=2, minutes=1), 60),
        (timedelta(days=43), 60),
        (timedelta(days=45), 3600),
        (timedelta(days=398), 3600),
        (timedelta(days=400), None),
    ],
)
def test_the_finest_buckets_kept_back_to_a_moment(age, finest):
    now = datetime(2026, 11, 30, 12, 0, 7, tzinfo=UTC)

    assert rollups.finest_kept(now - age, now) == finest


def test_a_window_edge_must_be_a_whole_second():
    with pytest.raises(ValueError, match="whole seconds"):
        rollups.spans(at(0.5), at(10))


# --- counts: on Postgres, through the real ingest paths --------------------------------------

pytestmark = pytest.mark.django_db

TEAMS = ["", "team-search", "team-ads"]
ALIASES = ["", "batch", "chat"]
MODELS = ["", "gpt-4o", "claude"]


@st.composite
def events(draw):
    """A start or a finish of one of a few requests; descriptive fields often empty, so that a
    later event fills them in, and finishes often on a whole second (a bucket's edge)."""
    request_id = f"r{draw(st.integers(0, 6))}"
    base = draw(st.integers(-SPREAD // 2, SPREAD // 2))
    fraction = draw(st.sampled_from([0, 0, 0.000001, 0.25, 0.999999]))
    fields = {
        "gateway_team_id": draw(st.sampled_from(TEAMS)),
        "key_alias": draw(st.sampled_from(ALIASES)),
        "model_group": draw(st.sampled_from(MODELS)),
        "provider": draw(st.sampled_from(["", "bedrock"])),
        "deployment_id": draw(st.sampled_from(["", "dep-1", "dep-2"])),
        "region": draw(st.sampled_from(["", "us-east-1"])),
    }
    if draw(st.booleans()):
        return Event(request_id=request_id, started_at=at(base - 5), **fields)
    outcome = draw(st.sampled_from(["success", "failure"]))
    failure_class = (
        draw(st.sampled_from(["upstream", "gateway", "client"])) if outcome == "failure" else ""
    )
    return Event(
        request_id=request_id,
        finished_at=at(base + fraction),
        outcome=outcome,
        failure_class=failure_class,
        # None: derived from the start when it is known. The others: on and around edges.
        latency_seconds=draw(st.sampled_from([None, None, 0.1, 4.999999, 5.0, 5.000001, 301.5])),
        time_to_first_token_seconds=draw(st.sampled_from([None, None, 0.1, 5.0, 5.000001, 61.0])),
        # Binary fractions: their sums are the same in any order, so compared exactly.
        cost=draw(st.sampled_from([None, 0.5, 0.125, 2.0])),
        total_tokens=draw(st.sampled_from([None, 10, 1000])),
        **fields,
    )


# A batch stored as one post; "large" ones go through COPY (fresh rows) or the staged merge.
batches = st.lists(
    st.tuples(st.lists(events(), min_size=1, max_size=8), st.booleans(), st.booleans()),
    min_size=1,
    max_size=8,
)
windows = st.tuples(st.integers(-SPREAD // 2 - 90, SPREAD // 2 + 30), st.integers(0, SPREAD + 120))


def _padding(n: int, salt: str) -> list[Event]:
    """Fresh finished requests that push a batch over VALUES_BATCH_LIMIT, onto the COPY path."""
    latencies = [None, 0.1, 5.0, 5.000001, 301.5]
    return [
        Event(
            request_id=f"pad-{salt}-{i}",
            finished_at=at(i),
            outcome="success",
            latency_seconds=latencies[i % len(latencies)],
            time_to_first_token_seconds=latencies[(i + 1) % len(latencies)],
            cost=0.25 * (i % 3),
            total_tokens=i,
        )
        for i in range(n)
    ]


# Edges the latencies drawn above sit on and around (and one no request is slower than); the
# requests that reported a first token, and the first-token edges.
SLOW_EDGES = [
    *(latency.LATENCY.edge(latency.index_of(seconds)) for seconds in (0.1, 4, 5, 300, 86400)),
    latency.FIRST_TOKEN.reported_edge(),
    *(latency.FIRST_TOKEN.edge(latency.FIRST_TOKEN.index_of(s)) for s in (0.1, 5, 60)),
]


def raw_counts(group_by: GroupBy, start: datetime, end: datetime, where: str, params: list[str]):
    slower = "".join(f", count(*) FILTER (WHERE {edge.of_rows})" for edge in SLOW_EDGES)
    sql = (
        f"SELECT {GROUP_EXPRESSIONS[group_by]}, count(*), "
        "count(*) FILTER (WHERE outcome = 'failure' AND failure_class = 'upstream'), "
        "count(*) FILTER "
        "(WHERE outcome = 'failure' AND failure_class IN ('gateway', 'client')), "
        f"sum(COALESCE(cost, 0)), sum(COALESCE(total_tokens, 0)){slower} "
        f"FROM {GatewayRequest._meta.db_table} "
        f"WHERE finished_at > %s AND finished_at <= %s AND {where} GROUP BY 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, end, *params])
        return {row[0]: row[1:] for row in cursor.fetchall()}


def rollup_counts(group_by: GroupBy, start: datetime, end: datetime, where: str, params: list[str]):
    source, source_params = rollups.window_source(start, end, slower=SLOW_EDGES, sums=True)
    slower = "".join(f", COALESCE(sum({edge.column}), 0)" for edge in SLOW_EDGES)
    sql = (
        f"SELECT {GROUP_EXPRESSIONS[group_by]}, sum(finished), sum(failed_upstream), "
        f"sum(failed_gateway + failed_client), sum(cost), sum(total_tokens){slower} "
        f"FROM {source} AS r WHERE {where} "
        "GROUP BY 1 HAVING sum(finished) <> 0"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*source_params, *params])
        return {row[0]: tuple(row[1:]) for row in cursor.fetchall()}


FILTERS = [
    ("true", []),
    (
        "(gateway_team_id IN (%s, %s) OR gateway_team_alias = %s)",
        ["team-search", "search", "Search"],
    ),
    ("key_alias = %s", ["chat"]),
    ("(model_group = %s OR model = %s)", ["claude", "claude"]),
    ("deployment_id = %s", ["dep-1"]),
    ("(provider = %s AND region = %s)", ["bedrock", "us-east-1"]),
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    stream=batches,
    fold_after=st.sets(st.integers(0, 8)),
    window=windows,
    group_by=st.sampled_from(sorted(GROUP_EXPRESSIONS)),
    where=st.sampled_from(FILTERS),
)
def test_rollups_count_what_the_request_rows_say(stream, fold_after, window, group_by, where):
    # Each example in a savepoint of its own, undone after: the next starts from nothing, and
    # tries the COPY of fresh rows first (a COPY that failed in an earlier one would not be).
    store._merge_until.clear()
    with transaction.atomic():
        for n, (batch, large, again) in enumerate(stream):
            if large:
                batch = batch + _padding(VALUES_BATCH_LIMIT + 1, str(n))
            store_events("gw", batch, T0)
            if again:  # a replica posts the same batch: nothing changes
                store_events("gw", batch, T0)
            if n in fold_after:
                rollups.fold(limit=3)  # a few at a time: part folded, part still deltas
        start = at(window[0])
        end = start + timedelta(seconds=window[1])
        condition, params = where

        assert rollup_counts(group_by, start, end, condition, params) == raw_counts(
            group_by, start, end, condition, params
        )
        transaction.set_rollback(True)


def test_a_finish_stored_twice_and_a_team_filled_in_later_count_once_in_the_new_team():
    finish = Event(
        request_id="r1", finished_at=at(0.5), outcome="failure", failure_class="upstream"
    )
    store_events("gw", [finish], T0)
    store_events("gw", [finish], T0)
    rollups.fold()
    store_events(
        "gw", [Event(request_id="r1", started_at=at(-3), gateway_team_id="team-search")], T0
    )

    counts = rollup_counts(GroupBy.TEAM, at(0), at(1), "true", [])

    # 3.5 s: slower than 0.1 s; no first token reported.
    assert counts == {"team-search": (1, 1, 0, 0.0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)}
    assert counts == raw_counts(GroupBy.TEAM, at(0), at(1), "true", [])


def test_every_ingest_path_counts_and_sums_what_it_stores():
    """The single-event upsert, the COPY of fresh rows and the merge of a staged batch each
    write the counts of the rows they insert (the bulk ones themselves, not the trigger):
    latency, cost and tokens included."""
    store._merge_until.clear()

    def batch(prefix: str, n: int) -> list[Event]:
        return [
            Event(
                request_id=f"{prefix}{i}", finished_at=at(i + 0.5), outcome="success",
                latency_seconds=[0.05, 4.0, 301.0][i % 3], cost=0.25 * (i % 4), total_tokens=i,
                time_to_first_token_seconds=[None, 0.05, 3.0][i % 3],
            )
            for i in range(n)
        ]  # fmt: skip

    store_events("gw", batch("single", 1), T0)  # one upsert
    copied = batch("copied", VALUES_BATCH_LIMIT + 5)
    store_events("gw", copied, T0)  # fresh: COPY'd
    # One stored request among new ones: the COPY fails, the batch is merged.
    store_events("gw", [copied[0], *batch("merged", VALUES_BATCH_LIMIT + 7)], T0)

    window = (at(-1), at(60))
    expected = raw_counts(GroupBy.EVERYTHING, *window, "true", [])
    # 45 requests, $15.75 and 463 tokens; slower than 0.1, 4, 5, 300 and 86400 s; 29 reported
    # a first token, 14 of them after more than 0.1 s, none after 5 or 60 s.
    assert expected == {"": (45, 0, 0, 15.75, 463, 29, 14, 14, 14, 0, 29, 14, 0, 0)}
    assert rollup_counts(GroupBy.EVERYTHING, *window, "true", []) == expected
    rollups.fold()
    assert rollup_counts(GroupBy.EVERYTHING, *window, "true", []) == expected


def test_folding_in_parts_takes_each_change_once_into_every_level():
    store_events(
        "gw",
        [Event(request_id=f"r{i}", finished_at=at(i), outcome="success") for i in range(20)],
        T0,
    )
    taken = rollups.fold(limit=7) + rollups.fold(limit=7) + rollups.fold(limit=7) + rollups.fold()

    assert taken == 20
    assert RequestDelta.objects.count() == 0
    for level in rollups.LEVELS:
        total = sum(RequestRollup.objects.filter(level=level).values_list("finished", flat=True))
        assert total == 20


def test_the_fold_task_folds_every_change_a_batch_at_a_time(monkeypatch):
    from ingest.tasks import fold_rollups

    monkeypatch.setattr(rollups, "FOLD_BATCH", 4)
    store_events(
        "gw",
        [Event(request_id=f"r{i}", finished_at=at(i), outcome="success") for i in range(10)],
        T0,
    )

    assert fold_rollups() == 10
    assert RequestDelta.objects.count() == 0
    assert rollup_counts(GroupBy.EVERYTHING, at(-1), at(10), "true", []) == {
        "": (10, 0, 0, 0.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    }


def _every_rollup_row() -> list[tuple[object, ...]]:
    """The rollups' rows that count something (folding leaves a bucket whose requests all moved
    to another group at zero)."""
    measured = (*rollups.MEASURES, *(edge.column for edge in latency.COUNTED))
    columns = ", ".join(("level", "bucket", *rollups.DIMENSIONS, *measured))
    nonzero = " OR ".join(f"COALESCE({m}, 0) <> 0" for m in measured)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {rollups.ROLLUPS} WHERE {nonzero} ORDER BY {columns}"
        )
        return list(cursor.fetchall())


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(stream=batches)
def test_rows_counted_straight_into_each_level_count_as_their_folded_deltas(stream):
    """The benchmarks' bulk loads count their rows into the levels with a statement
    (count_rows_into_levels) instead of writing and folding deltas: the same rollups, to
    every bucket, group, sum and latency edge, whichever levels a statement counts."""
    store._merge_until.clear()
    with transaction.atomic():
        for batch, large, _ in stream:
            store_events("gw", batch + (_padding(VALUES_BATCH_LIMIT + 1, "p") if large else []), T0)
        while rollups.fold():
            pass
        folded = _every_rollup_row()
        RequestRollup.objects.all().delete()
        with connection.cursor() as cursor:
            for levels in ((1, 10), (60, 600, 3600, 86400)):
                rollups.count_rows_into_levels(cursor, levels, "source = %s", ["gw"])

        assert _every_rollup_row() == folded
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True)
def test_the_fold_task_gives_the_folded_changes_room_back():
    """The deltas are a queue read by every evaluation: folding them also vacuums them, so
    that rounds of ingest and folding reuse the same pages instead of piling up dead rows."""
    from ingest.tasks import fold_rollups

    def a_round(n: int) -> int:
        store_events(
            "gw",
            [
                Event(request_id=f"r{n}-{i}", finished_at=at(i), outcome="success")
                for i in range(3000)
            ],
            T0,
        )
        fold_rollups()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pg_relation_size('{rollups.DELTAS}')")
            return int(cursor.fetchone()[0])

    first = a_round(0)
    for n in range(1, 4):
        size = a_round(n)

    assert RequestDelta.objects.count() == 0
    assert size <= first  # without the vacuum: four times the first


@pytest.mark.django_db(transaction=True)  # detaching old days' requests is not transactional
def test_each_level_is_kept_for_its_own_time():
    from ingest.tasks import prune_old_requests

    now = datetime.now(UTC).replace(microsecond=0)
    for level, kept in rollups.KEEP.items():
        for age in (kept - timedelta(minutes=1), kept + timedelta(minutes=1)):
            RequestRollup.objects.create(
                level=level, bucket=now - age, source="gw", gateway_team_id="",
                gateway_team_alias="", key_alias="", model_group="", model="", finished=1,
            )  # fmt: skip

    prune_old_requests()

    kept_now = sorted(RequestRollup.objects.values_list("level", "bucket"))
    assert kept_now == sorted(
        (level, now - kept + timedelta(minutes=1)) for level, kept in rollups.KEEP.items()
    )
