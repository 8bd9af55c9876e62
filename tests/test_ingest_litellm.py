"""POST /ingest/v1/litellm takes exactly what LiteLLM's generic_api callback posts."""

import json

import pytest

from ingest.models import GatewayRequest
from tests.ingest_client import LITELLM_URL, post
from tests.litellm_fixtures import load, raw

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("at_recording")]


def test_a_json_array_batch_is_stored_one_row_per_request(client, token):
    response = post(client, LITELLM_URL, raw("sdk_batch_7_events"), token)

    assert response.status_code == 200
    assert response.json() == {"accepted": 7, "rejected": []}
    rows = GatewayRequest.objects.order_by("started_at")
    assert [r.request_id for r in rows] == [
        e["litellm_call_id"] for e in load("sdk_batch_7_events")
    ]
    assert [r.failure_class for r in rows] == [
        "",
        "",
        "upstream",
        "upstream",
        "upstream",
        "client",
        "upstream",
    ]
    assert {r.source for r in rows} == {"litellm-prod"}


def test_a_single_object_is_stored(client, token):
    response = post(client, LITELLM_URL, raw("proxy_keyed_failure_429"), token)

    assert response.status_code == 200
    row = GatewayRequest.objects.get()
    assert (row.request_id, row.outcome, row.status_code) == (
        "e8801b61-7d08-4ee6-81c6-2edae4187deb",
        "failure",
        429,
    )
    assert (row.gateway_team_id, row.key_alias, row.model_group) == (
        "team-search",
        "search-service",
        "mock-ratelimit",
    )


def test_ndjson_is_stored_line_by_line(client, token):
    body = "\n".join(json.dumps(e) for e in load("sdk_batch_7_events")) + "\n"

    response = post(client, LITELLM_URL, body, token)

    assert response.status_code == 200
    assert response.json()["accepted"] == 7
    assert GatewayRequest.objects.count() == 7


def test_a_broken_ndjson_line_is_rejected_and_the_others_stored(client, token):
    lines = [json.dumps(e) for e in load("proxy_batch_2_events")]
    body = "\n".join([lines[0], '{"litellm_call_id": "cut off', lines[1]])

    response = post(client, LITELLM_URL, body, token)

    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    [rejection] = response.json()["rejected"]
    assert rejection["index"] == 1
    assert "line 2 is not valid JSON" in rejection["reason"]
    assert GatewayRequest.objects.count() == 2


def test_the_same_failure_reported_twice_is_one_unchanged_row(client, token):
    post(client, LITELLM_URL, raw("proxy_upstream_503"), token)
    first = GatewayRequest.objects.values().get()

    again = post(client, LITELLM_URL, raw("proxy_upstream_503"), token)

    assert again.status_code == 200
    assert GatewayRequest.objects.values().get() == first


def test_prompts_and_answers_never_reach_the_database(client, token):
    payload = load("proxy_keyed_success")
    payload["messages"] = [{"role": "user", "content": "PROMPT-MARKER"}]
    payload["response"] = {"choices": [{"message": {"content": "ANSWER-MARKER"}}]}

    post(client, LITELLM_URL, payload, token)

    stored = repr(list(GatewayRequest.objects.values()))
    assert "PROMPT-MARKER" not in stored
    assert "ANSWER-MARKER" not in stored
