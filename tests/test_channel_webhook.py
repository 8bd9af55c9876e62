"""The signed webhook (policies/channels/webhook.py): the exact body, a signature the
Standard Webhooks library accepts, what each answer means, and no secret in what is kept."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook as Verifier
from standardwebhooks import WebhookVerificationError

from policies import http
from policies.channels import kind_of
from policies.channels.base import Event, Notice, Target, Verdict
from policies.channels.webhook import (
    BODY_LIMIT,
    Webhook,
    body,
    document,
    message_id,
    new_signing_secret,
)
from tests.fakes.webhook import FakeReceiver
from tests.notices import make_notice

NOW = datetime(2026, 11, 30, 3, 1, 3, tzinfo=UTC)
URL = "https://hooks.example.com/in/T0KEN-in-the-path?sig=QUERYSECRET"
HEADER_TOKEN = "Bearer header-token-123456"
SECRET = new_signing_secret()


def make_target(**overrides: Any) -> Target:
    fields: dict[str, Any] = {
        "id": 1,
        "name": "our tooling",
        "secret": URL,
        "settings": {"headers": f"Authorization: {HEADER_TOKEN}\nX-Team: search"},
        "signing_secret": SECRET,
    }
    fields.update(overrides)
    return Target(**fields)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch, time_machine: Any) -> FakeReceiver:
    time_machine.move_to(NOW, tick=False)
    fake = FakeReceiver(SECRET)
    monkeypatch.setattr(http, "transport", fake.transport())
    return fake


def deliver(notice: Notice | None = None, target: Target | None = None) -> Any:
    return Webhook().deliver(notice or make_notice(), target or make_target(), "")


# --- the body ----------------------------------------------------------------------------------


def test_the_trigger_body_is_the_documented_version_1_document(receiver):
    result = deliver()

    assert result.verdict == Verdict.DELIVERED
    assert receiver.bodies == [
        {
            "version": 1,
            "type": "incident.triggered",
            "incident": {
                "id": 42,
                "dedup_key": "alerting-console/incident/42",
                "status": "open",
                "severity": "critical",
                "summary": "Provider errors: 12 failed requests in 60 s for team search",
                "policy": "Provider errors",
                "rule": "5 or more failed requests in 60 s",
                "kind": "failures",
                "group": "search",
                "team": "Search",
                "model": "gpt-4o",
                "count": 12,
                "threshold": 5,
                "peak": 14,
                "window_seconds": 60,
                "started_at": "2025-03-04T10:00:00+00:00",
                "detected_at": "2025-03-04T10:01:00+00:00",
                "noticed_at": "2025-03-04T10:01:00+00:00",
                "resolved_at": None,
                "top_errors": [
                    {"error": "RateLimitError 429", "count": 9},
                    {"error": "APIConnectionError", "count": 3},
                ],
                "sample_request_ids": ["chatcmpl-a1", "chatcmpl-b2"],
            },
            "links": {
                "incident": "https://console.example.com/incidents/42/",
                "runbook": "https://wiki.example.com/runbooks/provider-errors",
                "silence": "https://console.example.com/silences/new/?incident=42",
            },
            "sent_at": "2026-11-30T03:01:03+00:00",
        }
    ]


def test_the_body_is_compact_utf8_json():
    notice = make_notice(summary="Échecs en amont 🔥")

    sent = body(notice, NOW)

    assert sent == json.dumps(
        document(notice, NOW), ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")
    assert "Échecs en amont 🔥".encode() in sent


def test_a_resolve_a_renotify_and_a_test_say_so(receiver):
    deliver(make_notice(event=Event.RENOTIFY, count=20, peak=20))
    deliver(make_notice(event=Event.RESOLVE, count=0))
    deliver(make_notice(test=True))

    assert receiver.types() == ["incident.renotified", "incident.resolved", "test"]
    renotified, resolved, test = (b["incident"] for b in receiver.bodies)
    assert (renotified["status"], renotified["count"]) == ("open", 20)
    assert (resolved["status"], resolved["resolved_at"]) == (
        "resolved",
        "2025-03-04T10:30:00+00:00",
    )
    assert test["status"] == "open"


def test_what_is_unknown_is_null():
    data = document(
        make_notice(group="", team="", model="", runbook_url="", incident_url="", silence_url=""),
        NOW,
    )

    assert (data["incident"]["group"], data["incident"]["team"], data["incident"]["model"]) == (
        None,
        None,
        None,
    )
    assert data["links"] == {"incident": None, "runbook": None, "silence": None}


def test_a_huge_notice_is_cut_to_under_20_kb_and_still_taken(receiver):
    notice = make_notice(
        summary="S" * 5000,
        rule="R" * 5000,
        policy="P" * 5000,
        top_errors=tuple((f"{i} " + "\x01" * 3000, i) for i in range(500)),
        sample_request_ids=tuple("🔥" * 500 for _ in range(500)),
        runbook_url="https://wiki.example.com/" + "é" * 2000,
    )

    result = deliver(notice)

    assert result.verdict == Verdict.DELIVERED
    sent = receiver.requests[0].content
    assert len(sent) <= BODY_LIMIT
    incident = receiver.bodies[0]["incident"]
    assert incident["summary"].startswith("SSS")
    assert incident["summary"].endswith("…")
    assert incident["dedup_key"] == "alerting-console/incident/42"  # ids are never cut


def test_a_normal_notice_is_not_cut():
    notice = make_notice(summary="S" * 1024)

    assert document(notice, NOW)["incident"]["summary"] == "S" * 1024
    assert json.loads(body(notice, NOW)) == document(notice, NOW)


# --- the signature -----------------------------------------------------------------------------


def test_the_standard_webhooks_library_verifies_it(receiver):
    deliver()

    request = receiver.requests[0]
    assert receiver.refused == []
    payload = Verifier(SECRET).verify(request.content, dict(request.headers))
    assert payload["incident"]["id"] == 42
    assert request.headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-signature"].startswith("v1,")


def test_a_tampered_body_or_another_secret_is_rejected(receiver):
    deliver()
    request = receiver.requests[0]
    headers = dict(request.headers)

    tampered = request.content.replace(b'"count":12', b'"count":13')
    assert tampered != request.content
    with pytest.raises(WebhookVerificationError):
        Verifier(SECRET).verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(new_signing_secret()).verify(request.content, headers)


def test_the_fake_refuses_an_unsigned_or_stale_request(receiver):
    content = body(make_notice(), NOW)
    unsigned = httpx.Request(
        "POST", URL, content=content, headers={"Content-Type": "application/json"}
    )
    assert receiver.handle(unsigned).status_code == 401

    deliver()
    signed = receiver.requests[-1]
    stale = dict(signed.headers)
    stale["webhook-timestamp"] = str(int((NOW - timedelta(minutes=6)).timestamp()))
    replay = httpx.Request("POST", URL, content=signed.content, headers=stale)
    assert receiver.handle(replay).status_code == 401


def test_a_signature_with_another_key_is_refused_by_the_receiver(receiver):
    result = deliver(target=make_target(signing_secret=new_signing_secret()))

    assert (result.http_status, result.verdict) == (401, Verdict.PERMANENT)
    assert receiver.bodies == []


def test_the_signing_secret_is_whsec_and_32_random_bytes():
    first, second = new_signing_secret(), new_signing_secret()

    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32
    assert first != second


def test_without_a_signing_secret_nothing_is_sent(receiver):
    result = deliver(target=make_target(signing_secret=""))

    assert result.verdict == Verdict.PERMANENT
    assert "signing secret" in result.error
    assert receiver.requests == []


# --- webhook-id --------------------------------------------------------------------------------


def test_a_retry_carries_the_same_id_so_the_receiver_takes_it_once(receiver):
    receiver.script.append(503)

    first = deliver()
    second = deliver()
    third = deliver()  # a retry after a lost answer: the receiver has it already

    assert (first.verdict, second.verdict, third.verdict) == (
        Verdict.RETRY,
        Verdict.DELIVERED,
        Verdict.DELIVERED,
    )
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert len(ids) == 1
    assert ids.pop().startswith("msg_")
    assert len(receiver.bodies) == 1


def test_each_transition_has_its_own_id():
    ids = {
        message_id(make_notice()),
        message_id(make_notice(event=Event.RENOTIFY, delivery_id=2)),
        message_id(make_notice(event=Event.RENOTIFY, delivery_id=3)),
        message_id(make_notice(event=Event.RESOLVE, delivery_id=4)),
        message_id(make_notice(dedup_key="alerting-console/incident/43")),
    }
    assert len(ids) == 5
    # A retry of one delivery keeps its id, though the count it reports has moved.
    first = make_notice(event=Event.RENOTIFY, count=20, peak=20, delivery_id=7)
    again = make_notice(event=Event.RENOTIFY, count=25, peak=25, delivery_id=7)
    assert message_id(first) == message_id(again)
    assert message_id(make_notice(test=True)) != message_id(make_notice(test=True))
    assert "." not in message_id(make_notice())  # the spec: no '.' in the id


# --- answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (202, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (410, Verdict.PERMANENT),
        (400, Verdict.PERMANENT),
        (401, Verdict.PERMANENT),
        (403, Verdict.PERMANENT),
        (404, Verdict.PERMANENT),
        (413, Verdict.PERMANENT),
        (422, Verdict.PERMANENT),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (504, Verdict.RETRY),
        (301, Verdict.RETRY),
        (302, Verdict.RETRY),
        (307, Verdict.RETRY),
    ],
)
def test_each_answer_is_classified(receiver, status, verdict):
    receiver.script.append(status)

    result = deliver()

    assert (result.http_status, result.verdict) == (status, verdict)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_a_throttle_honours_retry_after(receiver, status):
    receiver.script.append((status, {"Retry-After": "120"}))

    result = deliver()

    assert (result.verdict, result.retry_after) == (Verdict.RETRY, 120.0)


def test_gone_and_redirects_say_what_to_do(receiver):
    receiver.script.extend([410, (302, {"Location": URL + "&next=1"})])

    gone, moved = deliver(), deliver()

    assert "gone" in gone.error
    assert "redirect" in moved.error
    assert len(receiver.requests) == 2  # the redirect was not followed


@pytest.mark.parametrize(
    ("exception", "verdict"),
    [
        (httpx.ConnectTimeout(f"timed out connecting to {URL}"), Verdict.RETRY),
        (httpx.ReadTimeout("timed out"), Verdict.RETRY),
        (httpx.ConnectError(f"refused: {URL}"), Verdict.RETRY),
        (http.AddressRefused("hooks.example.com resolves to 10.0.0.1"), Verdict.PERMANENT),
    ],
)
def test_no_answer_is_retried_unless_the_guard_refused(receiver, exception, verdict):
    receiver.script.append(exception)

    result = deliver()

    assert (result.http_status, result.verdict) == (None, verdict)
    assert "T0KEN" not in result.error
    assert "QUERYSECRET" not in result.error


def test_a_private_address_is_refused_before_sending(receiver):
    result = deliver(target=make_target(secret="https://10.0.0.1/in/T0KEN-in-the-path"))

    assert result.verdict == Verdict.PERMANENT
    assert "10.0.0.1 is a private address" in result.error
    assert "T0KEN" not in result.error
    assert receiver.requests == []


# --- extra headers and secrets -----------------------------------------------------------------


def test_extra_headers_are_sent(receiver):
    deliver()

    sent = receiver.requests[0].headers
    assert sent["authorization"] == HEADER_TOKEN
    assert sent["x-team"] == "search"


def test_no_secret_reaches_the_excerpt_when_the_receiver_echoes_the_request(receiver):
    echoed = {"url": URL, "path": "/in/T0KEN-in-the-path?sig=QUERYSECRET"}
    echoed |= {"auth": HEADER_TOKEN, "secret": SECRET}
    receiver.script.append((400, {}, echoed))

    result = deliver()

    assert result.verdict == Verdict.PERMANENT
    kept = result.excerpt + result.error + result.describe()
    for secret in ("T0KEN", "QUERYSECRET", "header-token-123456", SECRET[6:20]):
        assert secret not in kept


# --- validation --------------------------------------------------------------------------------


def test_a_good_channel_is_valid():
    assert Webhook().validate(URL, {"headers": f"Authorization: {HEADER_TOKEN}"}) == {}
    assert Webhook().validate(URL, {}) == {}
    assert Webhook().validate(URL, {"headers": {"X-Api-Key": "abc"}}) == {}  # apply_config


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "Enter the receiver's URL."),
        ("http://hooks.example.com/x", "Only https URLs are allowed"),
        ("https://user:pw@hooks.example.com/x", "must not carry a user name or password"),
        ("https://127.0.0.1/x", "127.0.0.1 is a loopback address"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("not a url", "The URL must start with https://"),
    ],
)
def test_a_bad_url_is_refused_with_the_reason(url, reason):
    errors = Webhook().validate(url, {})

    assert list(errors) == ["secret"]
    assert reason in errors["secret"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Authorization Bearer abc", "line 1: write Name: value"),
        ("X Bad: abc", "line 1: the name may have only"),
        ("X-Ok: 1\nwebhook-signature: v1,forged", "line 2: webhook-signature is set by the"),
        ("Content-Type: text/plain", "Content-Type is set by the console"),
        ("Host: internal.example", "Host is set by the console"),
        ("Webhook-Id: x", "Webhook-Id is set by the console"),
        ("X-A: 1\nx-a: 2", "line 2: x-a is given twice"),
        ("X-A: caf\u00e9-secret", "line 1: the value may have only printable ASCII"),
        ({"X-A": "one\r\nX-Injected: two"}, "header 'X-A': the value may not contain a line"),
        ("X-A: " + "v" * 3000, "the value is over 2048 characters"),
        ("\n".join(f"X-{i}: v" for i in range(21)), "at most 20 headers"),
        (["X-A: 1"], "write one 'Name: value' per line"),
    ],
)
def test_bad_headers_are_refused_naming_the_line_but_not_the_value(headers, reason):
    errors = Webhook().validate(URL, {"headers": headers})

    assert list(errors) == ["headers"]
    assert reason in errors["headers"]
    assert "secret" not in errors["headers"]
    assert "two" not in errors["headers"]


def test_the_kind_is_registered():
    kind = kind_of("webhook")

    assert isinstance(kind, Webhook)
    assert [f.name for f in kind.fields] == ["headers"]
    assert kind.credential_label == "Webhook URL"
