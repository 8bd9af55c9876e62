"""Generated junk at both endpoints: never a 5xx; the database holds exactly what was accepted."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.models import GatewayRequest
from tests.ingest_client import EVENTS_URL, LITELLM_URL, post
from tests.litellm_fixtures import JUST_AFTER_RECORDING, load

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("at_recording")]

NOW = JUST_AFTER_RECORDING.timestamp()

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=300),
    st.sampled_from(["", "\x00", "started", "finished", "success", "failure", "429"]),
    st.just("2026-11-22T13:05:00Z"),
    st.sampled_from([NOW, NOW - 5, NOW + 10**6, -1, 1e300]),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
ids = st.one_of(st.text(min_size=1, max_size=20), st.integers(), st.none(), st.just("r\x00"))


@st.composite
def console_events(draw):
    event = {
        "event": draw(st.sampled_from(["started", "finished", "bogus"])),
        "request_id": draw(ids),
        "started_at": draw(st.one_of(st.just(NOW - 10), scalars)),
    }
    for key in draw(st.lists(st.sampled_from([
        "finished_at", "status", "status_code", "latency_seconds", "failure_class", "error_message",
        "model", "team_id", "key_alias", "cost", "total_tokens",
    ]), max_size=6)):  # fmt: skip
        event[key] = draw(json_values)
    if draw(st.booleans()):
        event["status"] = draw(st.sampled_from(["success", "failure"]))
    return event


@st.composite
def litellm_events(draw):
    event = load("proxy_keyed_failure_429")
    event["litellm_call_id"] = draw(ids)
    for key in draw(st.lists(st.sampled_from([
        "startTime", "endTime", "status", "response_cost", "total_tokens", "metadata",
        "error_information", "model_group", "id",
    ]), max_size=4)):  # fmt: skip
        event[key] = draw(json_values)
    return event


def expected_id(item, url):
    if url == LITELLM_URL:
        return str(item.get("litellm_call_id") or item.get("id"))
    return str(item["request_id"])


def check(client, token, url, items, as_ndjson):
    GatewayRequest.objects.all().delete()
    body = "\n".join(json.dumps(i) for i in items) if as_ndjson else json.dumps(items)

    response = post(client, url, body, token)

    assert response.status_code < 500
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    stored = set(GatewayRequest.objects.values_list("request_id", flat=True))
    if response.status_code != 200:
        assert stored == set()
        return
    rejected = {r["index"] for r in answer["rejected"]}
    accepted = [item for index, item in enumerate(items) if index not in rejected]
    assert answer["accepted"] == len(accepted) > 0
    assert stored == {expected_id(item, url) for item in accepted}


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(
    items=st.lists(st.one_of(console_events(), json_values), min_size=1, max_size=6),
    as_ndjson=st.booleans(),
)
def test_console_endpoint_survives_junk(client, make_token, items, as_ndjson):
    check(client, make_token()[0], EVENTS_URL, items, as_ndjson)


@FUZZ
@given(items=st.lists(litellm_events(), min_size=1, max_size=4), as_ndjson=st.booleans())
def test_litellm_endpoint_survives_junk(client, make_token, items, as_ndjson):
    check(client, make_token()[0], LITELLM_URL, items, as_ndjson)


@FUZZ
@given(body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_never_cause_a_5xx(client, make_token, body):
    token = make_token()[0]
    for url in (EVENTS_URL, LITELLM_URL):
        response = post(client, url, body, token)
        assert response.status_code in (200, 400)
