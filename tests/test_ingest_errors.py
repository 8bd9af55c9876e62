"""Bad input gets a clear JSON answer with the right status, and nothing half-stored."""

import json

import pytest

from ingest.models import GatewayRequest, IngestToken
from tests.ingest_client import EVENTS_URL, LITELLM_URL, post
from tests.litellm_fixtures import JUST_AFTER_RECORDING, load

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("at_recording")]

NOW = JUST_AFTER_RECORDING.timestamp()


def started(request_id, **extra):
    return {"event": "started", "request_id": request_id, "started_at": NOW - 1, **extra}


@pytest.mark.parametrize("url", [EVENTS_URL, LITELLM_URL])
def test_a_missing_token_is_401(client, url):
    response = post(client, url, started("r1"), token=None)

    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not GatewayRequest.objects.exists()


def test_an_unknown_token_is_401(client, make_token):
    make_token()
    response = post(client, EVENTS_URL, started("r1"), token="acs_not-a-real-token")

    assert response.status_code == 401
    assert response.json() == {"error": "unknown token"}


def test_a_disabled_token_is_403(client, make_token):
    token, _ = make_token(enabled=False)

    response = post(client, EVENTS_URL, started("r1"), token=token)

    assert response.status_code == 403
    assert "disabled" in response.json()["error"]
    assert token not in response.content.decode()
    assert not GatewayRequest.objects.exists()


def test_using_a_token_records_when(client, make_token):
    token, row = make_token()
    assert row.last_used_at is None

    post(client, EVENTS_URL, started("r1"), token=token)

    row.refresh_from_db()
    assert row.last_used_at is not None
    assert row.last_used_at.timestamp() == pytest.approx(NOW, abs=1)


def test_the_token_is_stored_hashed(make_token):
    token, row = make_token()

    stored = repr(list(IngestToken.objects.values()))
    assert token not in stored
    assert row.token_prefix in token


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the body is empty"),
        (b"not json", "not valid JSON"),
        (b"42", "must be a JSON object or a list of objects, got int"),
        (b'"text"', "got str"),
        (b"[]", "the list is empty"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
    ],
)
@pytest.mark.parametrize("url", [EVENTS_URL, LITELLM_URL])
def test_a_body_that_is_not_an_object_or_list_is_400(client, token, url, body, message):
    response = post(client, url, body, token)

    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_wrong_content_type_is_415(client, token, content_type):
    response = post(client, EVENTS_URL, json.dumps(started("r1")), token, content_type=content_type)

    assert response.status_code == 415
    assert "application/json" in response.json()["error"]
    assert not GatewayRequest.objects.exists()


def test_a_body_over_the_limit_is_413(client, token, settings):
    settings.INGEST_MAX_BODY_BYTES = 2048
    batch = [started(f"r{i}", model="m" * 100) for i in range(30)]

    response = post(client, EVENTS_URL, batch, token)

    assert response.status_code == 413
    assert "2048" in response.json()["error"]
    assert not GatewayRequest.objects.exists()


def test_get_is_405(client, token):
    response = client.get(EVENTS_URL, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_valid_items_are_stored_and_each_rejected_index_is_named(client, token):
    batch = [
        started("ok-1"),
        {"event": "started", "request_id": "bad-1", "started_at": NOW + 86400},
        started("ok-2"),
        {"event": "finished", "request_id": "bad-2", "status": "success", "latency_seconds": -3},
        "not an object",
    ]

    response = post(client, EVENTS_URL, batch, token)

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [
        (1, "started_at"),
        (3, "latency_seconds"),
        (4, "event"),
    ]
    assert "in the future" in body["rejected"][0]["reason"]
    assert sorted(GatewayRequest.objects.values_list("request_id", flat=True)) == ["ok-1", "ok-2"]


def test_a_batch_with_no_valid_item_is_400_and_stores_nothing(client, token):
    batch = [{"event": "started"}, {"event": "bogus", "request_id": "x"}]

    response = post(client, EVENTS_URL, batch, token)

    assert response.status_code == 400
    assert response.json()["accepted"] == 0
    assert len(response.json()["rejected"]) == 2
    assert not GatewayRequest.objects.exists()


def test_a_litellm_body_with_absurd_values_is_rejected_naming_the_field(client, token):
    payload = load("proxy_upstream_503")
    payload["startTime"] = "not a time"

    response = post(client, LITELLM_URL, [payload, load("proxy_keyed_success")], token)

    assert response.status_code == 200
    assert response.json()["rejected"][0]["field"] == "startTime"
    assert GatewayRequest.objects.count() == 1


def test_a_token_disabled_after_use_is_refused_once_the_cache_expires(
    client, make_token, time_machine
):
    token, row = make_token()
    assert post(client, EVENTS_URL, started("r1"), token).status_code == 200
    row.enabled = False
    row.save()

    assert post(client, EVENTS_URL, started("r2"), token).status_code == 200  # still cached
    time_machine.shift(11)  # INGEST_TOKEN_CACHE_SECONDS is 10

    assert post(client, EVENTS_URL, started("r3"), token).status_code == 403


@pytest.mark.parametrize("code", ["²", "¹²³", "1" * 5000, "٣٠٣"])
def test_a_status_code_of_odd_digits_is_refused_not_a_500(client, token, code):
    failure = {"event": "finished", "request_id": "r1", "status": "failure"}

    as_status = post(client, EVENTS_URL, [{**failure, "status_code": code}], token)
    as_error_code = post(
        client, EVENTS_URL, [{**failure, "request_id": "r2", "error_code": code}], token
    )

    assert as_status.status_code == 400
    assert as_status.json()["rejected"][0]["field"] == "status_code"
    assert as_error_code.status_code == 200  # the error code is kept as text; the class is upstream
    assert GatewayRequest.objects.get(request_id="r2").failure_class == "upstream"
