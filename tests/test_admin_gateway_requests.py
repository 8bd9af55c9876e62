"""The gateway-request list reads pages through indexes, never the whole table: any viewer may
open it, and at 2 million rows each scan took seconds (six filters listing every distinct
value, a date hierarchy, a full count). Every query of the list is explained against a table
of 30,000 rows and its plan must not scan the table."""

import json
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ingest import partitions
from ingest.models import GatewayRequest
from ingest.store import COLUMNS
from tests.litellm_fixtures import JUST_AFTER_RECORDING

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("at_recording")]

TABLE = GatewayRequest._meta.db_table
ROWS = 30_000
URL = "/admin/ingest/gatewayrequest/"


@pytest.fixture
def requests_table(make_team, make_token):
    """30,000 requests of the last week: three teams, one source, a failure in five."""
    teams = [
        make_team(slug=slug, gateway_team_id=f"gw-{slug}") for slug in ("ads", "search", "chat")
    ]
    make_token()  # source litellm-prod
    now = JUST_AFTER_RECORDING
    oldest = now - timedelta(seconds=20 * ROWS)
    partitions.ensure([(oldest + timedelta(days=n)).date() for n in range(9)], now)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for i in range(ROWS):
            finished = now - timedelta(seconds=20 * i)
            failed = i % 5 == 0
            row: dict[str, object] = dict.fromkeys(COLUMNS, "")
            row.update(
                source="litellm-prod", request_id=f"req-{i:06}", received_at=finished,
                started_at=finished - timedelta(seconds=2), finished_at=finished,
                outcome="failure" if failed else "success",
                failure_class=("upstream", "client", "gateway")[i % 3] if failed else "",
                status_code=503 if failed else None, latency_seconds=2.0, cost=None,
                prompt_tokens=None, completion_tokens=None, total_tokens=None,
                time_to_first_token_seconds=None,
                gateway_team_id=teams[i % 3].gateway_team_id, model_group="gpt-4o",
                day=partitions.key_day(finished - timedelta(seconds=2), finished),
            )  # fmt: skip
            copy.write_row([row[name] for name in COLUMNS])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")  # as autovacuum would have: plans from real statistics
    return teams


def plan_nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def scans_of_the_table(sql):
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        [[document]] = cursor.fetchall()
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    return [
        node["Node Type"]
        for node in plan_nodes(plan)
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") == TABLE
    ]


def list_queries(client, query_string):
    """The page, and the SELECTs it made on the requests; the only other statement it may
    make on them is an EXPLAIN without ANALYZE (the count estimate), which reads no row."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL + query_string)
    assert response.status_code == 200
    on_table = [q["sql"] for q in captured.captured_queries if TABLE in q["sql"]]
    explains = [sql for sql in on_table if sql.startswith("EXPLAIN")]
    assert all("ANALYZE" not in sql.split("SELECT")[0] for sql in explains), explains
    return response, [sql for sql in on_table if sql not in explains]


def today():
    """The date filter's "Today", as its link has it."""
    midnight = datetime.combine(JUST_AFTER_RECORDING.astimezone(UTC).date(), time(), UTC)
    return urlencode(
        {"finished_at__gte": str(midnight), "finished_at__lt": str(midnight + timedelta(days=1))}
    )


@pytest.mark.parametrize(
    "query_string",
    [
        "",
        "?p=3",
        "?outcome__exact=failure",
        "?failure_class__exact=gateway",
        "?finished_at__isnull=True",
        "?source=litellm-prod",
        "?q=req-012345",
        "?outcome__exact=failure&source=litellm-prod&failure_class__exact=upstream",
    ],
)
def test_the_list_reads_no_whole_table(admin_client, requests_table, query_string):
    _, queries = list_queries(admin_client, query_string)

    assert queries, "the list read no requests at all"
    for sql in queries:
        assert "DISTINCT" not in sql.upper(), sql
        assert "COUNT(*)" not in sql.upper() or "LIMIT" in sql.upper(), sql  # only bounded
        assert scans_of_the_table(sql) == [], sql
    # The list itself, and at most a bounded count when the estimate is small.
    assert len(queries) <= 2


def test_a_team_and_a_day_are_filtered_without_reading_the_table(admin_client, requests_table):
    ads = requests_table[0]

    response, queries = list_queries(admin_client, f"?team={ads.pk}&{today()}")

    for sql in queries:
        assert "DISTINCT" not in sql.upper(), sql
        assert scans_of_the_table(sql) == [], sql
    shown = response.context["cl"].result_list
    assert shown
    assert {row.gateway_team_id for row in shown} == {"gw-ads"}


def test_the_filters_offer_the_consoles_teams_and_sources(admin_client, requests_table):
    response, _ = list_queries(admin_client, "")

    page = response.content.decode()
    for team in requests_table:
        assert f"?team={team.pk}" in page
    assert "?source=litellm-prod" in page


def test_the_count_is_the_planners_estimate_not_a_count(admin_client, requests_table):
    response, _ = list_queries(admin_client, "")

    count = response.context["cl"].result_count
    assert ROWS * 0.8 < count < ROWS * 1.2  # pages are numbered from it


def test_a_search_finds_the_request_by_its_id(admin_client, requests_table):
    response, _ = list_queries(admin_client, "?q=req-012345")

    assert [row.request_id for row in response.context["cl"].result_list] == ["req-012345"]
    assert response.context["cl"].result_count == 1


def test_an_unknown_team_lists_nothing(admin_client, requests_table):
    response, _ = list_queries(admin_client, "?team=999999")
    assert list(response.context["cl"].result_list) == []


@pytest.mark.usefixtures("at_recording")
def test_the_list_is_newest_first_not_by_request_id_as_text(admin_client, make_token):
    """Found by review: the list sorted request ids as text (a batch is stored in request id
    order, so newest-id-first put a batch's rows in reverse alphabetical order)."""
    make_token()
    now = JUST_AFTER_RECORDING
    times = {"aaa-newest": 10, "mmm-middle": 20, "zzz-oldest": 30}  # minutes ago
    GatewayRequest.objects.bulk_create(
        GatewayRequest(
            source="litellm-prod",
            request_id=request_id,
            received_at=now,
            started_at=now - timedelta(minutes=minutes_ago),
        )
        for request_id, minutes_ago in times.items()  # stored in request id order
    )

    html = admin_client.get(URL).content.decode()

    positions = [html.index(request_id) for request_id in times]
    assert positions == sorted(positions)
