"""Microsoft Teams through a Workflows webhook: what is accepted as its URL, the Adaptive Card
sent for each transition, how each answer is taken, and a card that always fits."""

import json

import httpx
import pytest

from policies import http
from policies.channels import KINDS, kind_of
from policies.channels.base import Event, Target, Verdict
from policies.channels.teams import BUDGET, CARD_TYPE, Teams
from tests.fakes.teams import FakeTeams
from tests.notices import make_notice, resolved

teams = Teams()


@pytest.fixture
def fake(monkeypatch):
    fake = FakeTeams()
    monkeypatch.setattr(http, "transport", fake.transport())
    return fake


def target(url):
    return Target(id=1, name="#search-alerts", secret=url)


def send(fake, notice=None, url=None):
    return teams.deliver(notice or make_notice(), target(url or fake.url()), "")


# The URL.


@pytest.mark.parametrize(
    "url",
    [
        FakeTeams().url(),
        "https://default0a1b2c3d.4e.environment.api.powerplatform.com:443/powerautomate/"
        "automations/direct/workflows/9f8e/triggers/manual/paths/invoke?api-version=1&sig=abc",
        "https://alerts.example.com/teams-relay",  # not one host allow-listed
    ],
)
def test_any_https_url_but_the_retired_kind_is_taken(url):
    assert teams.validate(url, {}) == {}


@pytest.mark.parametrize(
    "url",
    [
        "https://contoso.webhook.office.com/webhookb2/1234@5678/IncomingWebhook/abcd/ef01",
        "https://CONTOSO.WEBHOOK.OFFICE.COM./webhookb2/1234/IncomingWebhook/abcd/ef01",
        "https://outlook.office.com/webhook/1234@5678/IncomingWebhook/abcd/ef01",
    ],
)
def test_a_retired_office_365_connector_url_is_refused_with_what_to_do_instead(url):
    problem = teams.validate(url, {})["secret"]

    assert "retired" in problem
    assert "Workflows webhook" in problem
    assert "Send webhook alerts to a channel" in problem
    assert "When a Teams webhook request is received" in problem


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "Paste the URL"),
        ("http://prod-12.westeurope.logic.azure.com/workflows/x?sig=abc", "https://"),
        ("ftp://prod-12.westeurope.logic.azure.com/x", "https://"),
        ("https://prod-12.westeurope.logic.azure.com/x?sig=a b", "spaces or line breaks"),
        ("https://prod-12.westeurope.logic.azure.com/x?sig=ab\n", "spaces or line breaks"),
        ("https:///workflows/x", "no host"),
        ("https://[::1/x", "not a URL"),
        ("https://user:pass@prod-12.westeurope.logic.azure.com/x", "no user name or password"),
    ],
)
def test_a_bad_url_is_refused_naming_the_field_and_the_reason(url, reason):
    problems = teams.validate(url, {})

    assert list(problems) == ["secret"]
    assert reason in problems["secret"]


def test_a_reason_never_repeats_the_url():
    url = "https://contoso.webhook.office.com/webhookb2/SECRETPART/IncomingWebhook/abcd"

    assert "SECRETPART" not in teams.validate(url, {})["secret"]


def test_a_retired_url_is_refused_at_send_time_without_a_call(fake):
    result = send(fake, url="https://contoso.webhook.office.com/webhookb2/1/IncomingWebhook/2/3")

    assert result.verdict == Verdict.PERMANENT
    assert "retired" in result.error
    assert fake.content_types == []


def test_teams_is_in_the_registry():
    assert kind_of("teams") is KINDS["teams"]
    assert (KINDS["teams"].label, KINDS["teams"].fields) == ("Microsoft Teams", ())


# The card.

LINKS = [
    {
        "type": "Action.OpenUrl",
        "title": "Open in the console",
        "url": "https://console.example.com/incidents/42/",
    },
    {
        "type": "Action.OpenUrl",
        "title": "Runbook",
        "url": "https://wiki.example.com/runbooks/provider-errors",
    },
    {
        "type": "Action.OpenUrl",
        "title": "Silence",
        "url": "https://console.example.com/silences/new/?incident=42",
    },
]


def test_a_trigger_is_this_exact_adaptive_card(fake):
    result = send(fake)

    assert result.verdict == Verdict.DELIVERED
    assert fake.content_types == ["application/json"]
    assert fake.bodies == [
        {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "msteams": {"width": "Full"},
                        "body": [
                            {
                                "type": "TextBlock",
                                "text": "🔴 FIRING [critical] Provider errors: 12 failed "
                                "requests in 60 s for team search",
                                "weight": "Bolder",
                                "size": "Medium",
                                "color": "attention",
                                "wrap": True,
                            },
                            {
                                "type": "FactSet",
                                "facts": [
                                    {"title": "Policy", "value": "Provider errors"},
                                    {"title": "Rule", "value": "5 or more failed requests in 60 s"},
                                    {"title": "Group", "value": "team search"},
                                    {"title": "Count", "value": "12 (threshold 5, peak 14)"},
                                    {"title": "Window", "value": "60 s"},
                                    {"title": "Severity", "value": "critical"},
                                    {"title": "Since", "value": "2025-03-04 10:00:00 UTC"},
                                    {"title": "Team", "value": "Search"},
                                    {"title": "Model", "value": "gpt-4o"},
                                ],
                            },
                            {
                                "type": "TextBlock",
                                "text": "Top errors",
                                "weight": "Bolder",
                                "spacing": "Medium",
                            },
                            {
                                "type": "FactSet",
                                "facts": [
                                    {"title": "RateLimitError 429", "value": "9"},
                                    {"title": "APIConnectionError", "value": "3"},
                                ],
                            },
                            {
                                "type": "TextBlock",
                                "text": "Sample request ids",
                                "weight": "Bolder",
                                "spacing": "Medium",
                            },
                            {
                                "type": "TextBlock",
                                "text": "chatcmpl-a1, chatcmpl-b2",
                                "fontType": "Monospace",
                                "isSubtle": True,
                                "wrap": True,
                            },
                        ],
                        "actions": LINKS,
                    },
                }
            ],
        }
    ]


def test_trigger_renotify_and_resolve_are_three_cards_the_last_one_green(fake):
    first = make_notice()
    results = [
        teams.deliver(notice, target(fake.url()), "")
        for notice in (first, make_notice(event=Event.RENOTIFY), resolved(first))
    ]

    assert [r.verdict for r in results] == [Verdict.DELIVERED] * 3
    assert [r.http_status for r in results] == [202] * 3
    assert [r.reference for r in results] == ["", "", ""]  # Teams answers no message id
    assert [title.split(" [")[0] for title in fake.titles()] == [
        "🔴 FIRING",
        "🔴 STILL FIRING",
        "✅ RESOLVED",
    ]
    colours = [card["body"][0]["color"] for card in fake.cards]
    assert colours == ["attention", "attention", "good"]
    last_facts = fake.cards[2]["body"][1]["facts"]
    assert {"title": "Resolved", "value": "2025-03-04 10:30:00 UTC"} in last_facts


@pytest.mark.parametrize(
    ("severity", "colour", "emoji"),
    [
        ("critical", "attention", "🔴"),
        ("error", "attention", "🟠"),
        ("warning", "warning", "🟡"),
        ("info", "accent", "🔵"),
    ],
)
def test_severity_is_the_title_colour_and_emoji(fake, severity, colour, emoji):
    send(fake, make_notice(severity=severity))

    title = fake.cards[0]["body"][0]
    assert title["color"] == colour
    assert title["text"].startswith(f"{emoji} FIRING [{severity}] ")


def test_a_test_message_says_test(fake):
    send(fake, make_notice(test=True))

    assert fake.titles()[0].startswith("🔴 TEST [critical] ")


def test_no_links_no_errors_no_ids_leave_no_empty_sections(fake):
    send(
        fake,
        make_notice(
            top_errors=(), sample_request_ids=(), runbook_url="", incident_url="", silence_url=""
        ),
    )

    card = fake.cards[0]
    assert "actions" not in card
    assert [element["type"] for element in card["body"]] == ["TextBlock", "FactSet"]


# The answers.


@pytest.mark.parametrize("status", [200, 202, 204])
def test_any_2xx_is_delivered(fake, status):
    fake.script.append(status)

    result = send(fake)

    assert (result.verdict, result.http_status, result.error) == (Verdict.DELIVERED, status, "")


def test_a_429_is_retried_after_what_retry_after_said(fake):
    fake.script.append((429, {"Retry-After": "7"}, {"error": {"code": "TooManyRequests"}}))

    result = send(fake)

    assert (result.verdict, result.http_status, result.retry_after) == (Verdict.RETRY, 429, 7.0)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_is_retried(fake, status):
    fake.script.append(status)

    assert send(fake).verdict == Verdict.RETRY


@pytest.mark.parametrize("status", [400, 403, 404, 413])
def test_any_other_4xx_is_permanent_and_says_what_it_means(fake, status):
    fake.script.append(status)

    result = send(fake)

    assert (result.verdict, result.http_status) == (Verdict.PERMANENT, status)
    assert result.error


def test_a_wrong_signature_is_permanent(fake):
    wrong = FakeTeams(sig="not-the-signature-0123456789").url()

    result = send(fake, url=wrong)

    assert (result.verdict, result.http_status) == (Verdict.PERMANENT, 401)
    assert "sig=" in result.error
    assert fake.bodies == []


def test_no_answer_is_retried(fake):
    fake.script.append(httpx.ReadTimeout("timed out"))

    result = send(fake)

    assert (result.verdict, result.http_status) == (Verdict.RETRY, None)
    assert "ReadTimeout" in result.error


# Never refused for length.


def test_huge_texts_are_cut_to_fit_and_teams_takes_the_card(fake):
    notice = make_notice(
        summary="S" * 100_000,
        policy="P" * 50_000,
        rule="R" * 50_000,
        group_label="team " + "g" * 50_000,
        top_errors=tuple((f"{n} " + "E" * 5_000, n) for n in range(50)),
        sample_request_ids=tuple(f"chatcmpl-{n:06d}" + "x" * 100 for n in range(1_000)),
    )

    result = send(fake, notice)

    assert result.verdict == Verdict.DELIVERED
    assert len(fake.refused) == 0
    body = fake.bodies[0]
    assert len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()) <= BUDGET
    card = fake.cards[0]
    assert card["body"][0]["text"].startswith("🔴 FIRING [critical] SSS")
    assert card["body"][0]["text"].endswith("…")
    assert len(card["body"][3]["facts"]) == 10  # the ten most frequent errors
    assert card["actions"] == LINKS  # the links survive the cut


def test_multibyte_text_is_measured_in_bytes(fake):
    notice = make_notice(
        summary="🔥" * 20_000, top_errors=tuple(("错误" * 2_000, n) for n in range(10))
    )

    assert send(fake, notice).verdict == Verdict.DELIVERED
    body = json.dumps(fake.bodies[0], ensure_ascii=False, separators=(",", ":")).encode()
    assert len(body) <= BUDGET


def test_links_too_long_to_fit_are_left_out_rather_than_refused(fake):
    notice = make_notice(runbook_url="https://wiki.example.com/" + "r" * 30_000)

    assert send(fake, notice).verdict == Verdict.DELIVERED
    assert "actions" not in fake.cards[0]


def test_the_fake_refuses_what_teams_refuses(fake):
    """The fake is strict enough to catch an over-long card, a wrong content type, a body
    without attachments and a card version Teams cannot render."""
    big = {"type": "message", "attachments": [{"contentType": "x", "content": "y" * 30_000}]}
    card_16 = {"contentType": CARD_TYPE, "content": {"type": "AdaptiveCard", "version": "1.6"}}
    answers = [
        http.request("POST", fake.url(), json=big),
        http.request("POST", fake.url(), content=b"{}", headers={"Content-Type": "text/plain"}),
        http.request("POST", fake.url(), json={"type": "message"}),
        http.request("POST", fake.url(), json={"attachments": [card_16]}),
    ]

    assert [answer.status_code for answer in answers] == [400] * 4
    reasons = [errors[0] for _, errors in fake.refused]
    assert ["28 KB" in reasons[0], "text/plain" in reasons[1], "1.6" in reasons[3]] == [True] * 3
    assert fake.bodies == []


# Secrets.


def test_the_url_never_shows_in_an_excerpt_or_error(fake):
    url = fake.url()
    fake.script.append((400, {}, {"error": {"message": f"bad request to {url}", "sig": fake.sig}}))
    fake.script.append(httpx.ConnectError(f"could not reach {url}"))

    results = [send(fake), send(fake)]

    for result in results:
        assert url not in result.excerpt + result.error
        assert fake.sig not in result.excerpt + result.error
    assert "bad request to" in results[0].excerpt
