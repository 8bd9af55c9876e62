"""A request's start and finish merge into one row, whatever order they arrive in."""

import itertools
from datetime import timedelta

import pytest
from django.db import transaction

from ingest import store
from ingest.events import parse_console_event
from ingest.models import GatewayRequest
from ingest.store import _orm_upsert, store_events
from tests.ingest_client import EVENTS_URL, LITELLM_URL, post
from tests.litellm_fixtures import JUST_AFTER_RECORDING, load

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("at_recording")]

NOW = JUST_AFTER_RECORDING.timestamp()
STARTED = {
    "event": "started",
    "request_id": "r1",
    "started_at": NOW - 10,
    "model_group": "gpt-4o",
    "team_id": "team-search",
    "key_alias": "search-service",
}
FINISHED = {
    "event": "finished",
    "request_id": "r1",
    "status": "failure",
    "finished_at": NOW - 2,
    "status_code": 503,
    "error_class": "ServiceUnavailableError",
    "model": "openai/gpt-4o",
}


@pytest.fixture(autouse=True, params=["values", "copy"])
def storage_path(request, monkeypatch):
    """Small batches are one INSERT ... VALUES, large ones go through COPY: both merge alike."""
    monkeypatch.setattr(store, "VALUES_BATCH_LIMIT", 1000 if request.param == "values" else 0)
    monkeypatch.setattr(store, "_merge_until", {})  # each test starts by trying COPY
    return request.param


def stored_row():
    return GatewayRequest.objects.values().get()


def without_ids(row):
    """What was stored about the request, without the console's bookkeeping (its id, when it
    came, which writer counted it)."""
    return {k: v for k, v in row.items() if k not in ("id", "received_at", "counted_on_insert")}


def test_a_start_alone_is_an_unfinished_request(client, token):
    post(client, EVENTS_URL, STARTED, token)

    row = stored_row()
    assert row["started_at"].timestamp() == pytest.approx(NOW - 10)
    assert row["finished_at"] is None
    assert row["outcome"] == ""


@pytest.mark.parametrize(
    "order", list(itertools.permutations([STARTED, FINISHED, FINISHED, STARTED]))
)
def test_start_and_finish_merge_in_any_order_and_repeats_change_nothing(client, token, order):
    for event in order:
        assert post(client, EVENTS_URL, event, token).status_code == 200

    row = stored_row()
    assert row["started_at"].timestamp() == pytest.approx(NOW - 10)
    assert row["finished_at"].timestamp() == pytest.approx(NOW - 2)
    assert (row["outcome"], row["failure_class"], row["status_code"]) == (
        "failure",
        "upstream",
        503,
    )
    assert row["latency_seconds"] == pytest.approx(8)
    assert (row["model_group"], row["model"], row["key_alias"]) == (
        "gpt-4o",
        "openai/gpt-4o",
        "search-service",
    )


def test_start_and_finish_in_one_batch_merge(client, token):
    post(client, EVENTS_URL, [FINISHED, STARTED, FINISHED], token)

    row = stored_row()
    assert row["outcome"] == "failure"
    assert row["latency_seconds"] == pytest.approx(8)


def test_the_first_finish_wins(client, token):
    post(client, EVENTS_URL, FINISHED, token)
    post(client, EVENTS_URL, {**FINISHED, "status": "success", "finished_at": NOW - 1}, token)

    assert stored_row()["outcome"] == "failure"


def test_a_litellm_finish_merges_with_the_callbacks_start(client, token):
    payload = load("proxy_keyed_failure_429")
    start = {
        "event": "started",
        "request_id": payload["litellm_call_id"],
        "started_at": payload["startTime"],
    }

    post(client, EVENTS_URL, start, token)
    post(client, LITELLM_URL, payload, token)

    row = stored_row()
    assert row["outcome"] == "failure"
    assert row["key_alias"] == "search-service"
    assert row["latency_seconds"] == pytest.approx(0.0031, abs=1e-4)


def test_requests_of_different_sources_are_different_rows(client, make_token):
    first, _ = make_token(source="gateway-a")
    second, _ = make_token(source="gateway-b")

    post(client, EVENTS_URL, STARTED, first)
    post(client, EVENTS_URL, STARTED, second)

    assert sorted(GatewayRequest.objects.values_list("source", flat=True)) == [
        "gateway-a",
        "gateway-b",
    ]


def test_a_team_token_claims_events_that_name_no_team(client, make_token, make_team):
    team = make_team(slug="search", gateway_team_id="team-search", gateway_team_alias="Search")
    token, _ = make_token(team=team)

    post(
        client,
        EVENTS_URL,
        [{**STARTED, "team_id": None}, {**STARTED, "request_id": "r2", "team_id": "other"}],
        token,
    )

    teams = dict(GatewayRequest.objects.values_list("request_id", "gateway_team_id"))
    assert teams == {"r1": "team-search", "r2": "other"}


def test_the_orm_path_for_sqlite_merges_like_the_copy_path(client, token):
    """The embedded default stores through the ORM; it must give the same rows."""
    for event in (FINISHED, STARTED, FINISHED):
        post(client, EVENTS_URL, event, token)
    copy_row = without_ids(stored_row())
    GatewayRequest.objects.all().delete()

    now = JUST_AFTER_RECORDING
    for event in (FINISHED, STARTED, FINISHED):
        with transaction.atomic():
            _orm_upsert("litellm-prod", [parse_console_event(event, now)], now)

    assert without_ids(stored_row()) == copy_row


def test_received_at_is_when_the_console_first_stored_it(client, token, time_machine):
    post(client, EVENTS_URL, STARTED, token)
    time_machine.move_to(JUST_AFTER_RECORDING + timedelta(seconds=30))
    post(client, EVENTS_URL, FINISHED, token)

    received = stored_row()["received_at"]
    assert JUST_AFTER_RECORDING <= received < JUST_AFTER_RECORDING + timedelta(seconds=5)


def test_each_batch_in_one_transaction_is_stored_on_its_own():
    """Regression: the staging table was emptied only at commit, so within one transaction a
    later batch carried the earlier batch's rows along: here the pruned row came back, twice,
    and the upsert failed."""
    now = JUST_AFTER_RECORDING
    with transaction.atomic():
        store_events("litellm-prod", [parse_console_event(STARTED, now)], now)
        GatewayRequest.objects.all().delete()
        store_events("litellm-prod", [parse_console_event(FINISHED, now)], now)

    row = stored_row()
    assert (row["outcome"], row["started_at"]) == ("failure", None)


def test_deployment_region_first_token_end_user_and_tags_are_stored_and_merged(client, token):
    """The start tells what was called and for whom; the finish how fast the first token came.
    Both paths (VALUES and COPY, then the merge of the second event) keep all of it."""
    started = {
        **STARTED,
        "deployment_id": "dep-eu-1",
        "api_base": "https://bedrock-runtime.eu-west-3.amazonaws.com",
        "end_user": "customer-7",
        "tags": ["prod", "batch-job"],
    }
    finished = {
        **FINISHED,
        "time_to_first_token_seconds": 1.5,
        "deployment_id": "dep-other",  # descriptive fields: the first non-empty value stays
        "region": "us-east-1",
        "tags": ["ignored"],
    }
    post(client, EVENTS_URL, started, token)
    post(client, EVENTS_URL, finished, token)
    post(client, EVENTS_URL, finished, token)  # a repeat changes nothing

    row = stored_row()
    assert (row["deployment_id"], row["region"], row["end_user"]) == (
        "dep-eu-1", "eu-west-3", "customer-7"
    )  # fmt: skip
    assert row["request_tags"] == '["prod","batch-job"]'
    assert row["time_to_first_token_seconds"] == 1.5


def test_a_litellm_finish_stores_its_deployment_and_first_token(client, token):
    post(client, LITELLM_URL, load("proxy_slow_success_5s"), token)

    row = stored_row()
    assert row["deployment_id"].startswith("171a04d0")
    assert row["time_to_first_token_seconds"] == pytest.approx(row["latency_seconds"])
    assert row["end_user"] == "end-user-42"
    assert "case:upstream_http_slow_success_5s" in row["request_tags"]
