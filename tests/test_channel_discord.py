"""Discord through a channel webhook: what is accepted as its URL, the message sent for each
transition, the first message edited to show the resolve, how each answer is taken, and a
message that always fits Discord's limits."""

import httpx
import pytest

from policies import http
from policies.channels import KINDS, kind_of
from policies.channels.base import Event, Target, Verdict
from policies.channels.discord import Discord
from tests.fakes.discord import TOKEN, WEBHOOK_ID, FakeDiscord, counted
from tests.notices import make_notice, resolved

discord = Discord()
URL = f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}"


@pytest.fixture
def fake(monkeypatch):
    fake = FakeDiscord()
    monkeypatch.setattr(http, "transport", fake.transport())
    return fake


def send(notice=None, reference="", url=URL):
    target = Target(id=1, name="#alerts", secret=url)
    return discord.deliver(notice or make_notice(), target, reference)


# The URL.


@pytest.mark.parametrize(
    "url",
    [
        URL,
        f"https://discordapp.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
        f"https://discord.com/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}",
        f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}/",
        f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}?thread_id=1300000000000000001",
    ],
)
def test_a_discord_webhook_url_is_taken(url):
    assert discord.validate(url, {}) == {}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "Copy Webhook URL"),
        (f"http://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}", "https://"),
        (f"https://discord.example.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}", "discord.com"),
        (f"https://canary.discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}", "discord.com"),
        (f"https://discord.com.evil.io/api/webhooks/{WEBHOOK_ID}/{TOKEN}", "discord.com"),
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}/slack", "Slack-compatible"),
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}/github", "Github-compatible"),
        (f"https://discord.com/api/webhooks/webhook-one/{TOKEN}", "digits"),
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}", "looks like"),
        (f"https://discord.com/webhooks/{WEBHOOK_ID}/{TOKEN}", "looks like"),
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}/messages/1", "looks like"),
        (f"https://discord.com:8443/api/webhooks/{WEBHOOK_ID}/{TOKEN}", "looks like"),
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}?wait=false", "thread_id"),
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}?thread_id=abc", "digits only"),
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}/tok%en", "token"),
        (f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN} ", "spaces"),
        ("https://[::1/api/webhooks/1/2", "not a URL"),
        (f"https:///api/webhooks/{WEBHOOK_ID}/{TOKEN}", "no host"),
    ],
)
def test_a_bad_url_is_refused_naming_the_field_and_the_reason(url, reason):
    problems = discord.validate(url, {})

    assert list(problems) == ["secret"]
    assert reason in problems["secret"]
    assert TOKEN not in problems["secret"]


def test_a_bad_url_is_refused_at_send_time_without_a_call(fake):
    result = send(url=f"{URL}/slack")

    assert result.verdict == Verdict.PERMANENT
    assert "Slack-compatible" in result.error
    assert fake.calls == []


def test_discord_is_in_the_registry():
    assert kind_of("discord") is KINDS["discord"]
    assert (KINDS["discord"].label, KINDS["discord"].fields) == ("Discord", ())


# The message.

FIRING_TITLE = "🔴 FIRING [critical] Provider errors: 12 failed requests in 60 s for team search"


def test_a_trigger_is_this_exact_message_and_its_id_is_kept(fake):
    result = send()

    assert (result.verdict, result.http_status) == (Verdict.DELIVERED, 200)
    assert result.reference == fake.posted[0]
    assert fake.calls == [("POST", "")]
    sent = fake.messages[result.reference]
    assert sent["content"] == FIRING_TITLE
    assert sent["embeds"] == [
        {
            "title": FIRING_TITLE,
            "color": 0xD32F2F,
            "url": "https://console.example.com/incidents/42/",
            "description": "**Top errors**\n"
            "• RateLimitError 429: 9\n"
            "• APIConnectionError: 3\n\n"
            "**Sample request ids**\n"
            "chatcmpl-a1, chatcmpl-b2\n\n"
            "[Open in the console](https://console.example.com/incidents/42/) · "
            "[Runbook](https://wiki.example.com/runbooks/provider-errors) · "
            "[Silence](https://console.example.com/silences/new/?incident=42)",
            "fields": [
                {"name": "Policy", "value": "Provider errors", "inline": True},
                {"name": "Rule", "value": "5 or more failed requests in 60 s", "inline": False},
                {"name": "Group", "value": "team search", "inline": True},
                {"name": "Count", "value": "12 (threshold 5, peak 14)", "inline": True},
                {"name": "Window", "value": "60 s", "inline": True},
                {"name": "Severity", "value": "critical", "inline": True},
                {"name": "Since", "value": "2025-03-04 10:00:00 UTC", "inline": True},
                {"name": "Team", "value": "Search", "inline": True},
                {"name": "Model", "value": "gpt-4o", "inline": True},
            ],
            "footer": {"text": "Alerting Console · incident 42"},
            "timestamp": "2025-03-04T10:01:00+00:00",
        }
    ]


def test_it_posts_with_wait_true_and_no_mentions(monkeypatch):
    seen = []

    def answer(request):
        seen.append(request)
        return httpx.Response(200, json={"id": "1200000000000000009"})

    monkeypatch.setattr(http, "transport", httpx.MockTransport(answer))

    send(url=f"{URL}?thread_id=1300000000000000001")

    assert seen[0].url.params["wait"] == "true"
    assert seen[0].url.params["thread_id"] == "1300000000000000001"
    assert b'"allowed_mentions":{"parse":[]}' in seen[0].content.replace(b" ", b"")


def test_nothing_in_a_summary_pings_anyone_or_formats(fake):
    notice = make_notice(
        summary="@everyone look",
        top_errors=(("[click me](https://evil.example) **loud** <@123>", 1),),
    )

    result = send(notice)

    sent = fake.messages[result.reference]
    assert sent["mention_everyone"] is False
    assert (
        r"• \[click me\](https://evil.example) \*\*loud\*\* \<@123\>: 1"
        in (sent["embeds"][0]["description"])
    )


def test_the_fake_would_ping_everyone_without_allowed_mentions(fake):
    """The check above can fail: the fake sees a ping when mentions are not turned off."""
    http.request("POST", f"{URL}?wait=true", json={"content": "@everyone look"})

    assert fake.messages[fake.posted[0]]["mention_everyone"] is True


@pytest.mark.parametrize(
    ("severity", "colour"),
    [("critical", 0xD32F2F), ("error", 0xE65100), ("warning", 0xF9A825), ("info", 0x1976D2)],
)
def test_severity_is_the_embed_colour(fake, severity, colour):
    result = send(make_notice(severity=severity))

    assert fake.messages[result.reference]["embeds"][0]["color"] == colour


def test_trigger_renotify_resolve_edits_the_first_message_to_resolved(fake):
    first = make_notice()

    trigger = send(first)
    renotify = send(make_notice(event=Event.RENOTIFY), trigger.reference)
    resolve = send(resolved(first), renotify.reference)

    assert [r.verdict for r in (trigger, renotify, resolve)] == [Verdict.DELIVERED] * 3
    original = trigger.reference
    assert renotify.reference == resolve.reference == original
    assert fake.calls == [("POST", ""), ("POST", ""), ("PATCH", original), ("POST", "")]
    assert len(fake.posted) == 3
    edited = fake.messages[original]
    assert edited["edited_timestamp"] is not None
    assert edited["content"].startswith("✅ RESOLVED [critical] Provider errors")
    assert edited["embeds"][0]["title"].startswith("✅ RESOLVED")
    assert edited["embeds"][0]["color"] == 0x2E7D32
    assert {"name": "Resolved", "value": "2025-03-04 10:30:00 UTC", "inline": True} in (
        edited["embeds"][0]["fields"]
    )
    reminder = fake.messages[fake.posted[1]]
    assert reminder["embeds"][0]["title"].startswith("🔴 STILL FIRING")
    line = fake.messages[fake.posted[2]]
    assert line["content"] == edited["content"]
    assert line["embeds"] == []


def test_a_change_of_severity_edits_the_first_message_and_posts_a_line(fake):
    trigger = send(make_notice(severity="warning"))

    changed = send(make_notice(event=Event.UPDATE, severity="critical"), trigger.reference)

    assert changed.verdict == Verdict.DELIVERED
    original = trigger.reference
    assert changed.reference == original
    assert fake.calls == [("POST", ""), ("PATCH", original), ("POST", "")]
    edited = fake.messages[original]
    assert edited["content"].startswith("🔴 FIRING [critical] Provider errors")
    line = fake.messages[fake.posted[1]]
    assert (line["content"], line["embeds"]) == (edited["content"], [])


def test_a_resolve_without_a_first_message_posts_it_whole(fake):
    result = send(resolved(make_notice()), "")

    assert fake.calls == [("POST", "")]
    assert result.reference == fake.posted[0]
    assert fake.messages[fake.posted[0]]["embeds"][0]["title"].startswith("✅ RESOLVED")


def test_a_first_message_deleted_in_discord_does_not_fail_the_resolve(fake):
    result = send(resolved(make_notice()), "1200000000000000777")

    assert result.verdict == Verdict.DELIVERED
    assert fake.calls == [("PATCH", "1200000000000000777"), ("POST", "")]
    assert fake.messages[fake.posted[0]]["embeds"][0]["title"].startswith("✅ RESOLVED")


def test_an_edit_refused_for_its_body_still_posts_the_resolve(fake):
    original = send().reference
    fake.script.append((400, {}, {"code": 50035, "message": "Invalid Form Body"}))

    result = send(resolved(make_notice()), original)

    assert result.verdict == Verdict.DELIVERED
    assert fake.calls[1:] == [("PATCH", original), ("POST", "")]
    assert fake.messages[fake.posted[1]]["embeds"][0]["title"].startswith("✅ RESOLVED")


def test_a_rate_limited_edit_is_retried_before_anything_is_posted(fake):
    original = send().reference
    fake.rate_limit(2.5)

    result = send(resolved(make_notice()), original)

    assert (result.verdict, result.retry_after, result.reference) == (Verdict.RETRY, 2.5, original)
    assert fake.calls[1:] == [("PATCH", original)]


def test_a_deleted_webhook_stops_the_resolve(fake):
    original = send().reference
    del fake.webhooks[WEBHOOK_ID]

    result = send(resolved(make_notice()), original)

    assert (result.verdict, result.http_status) == (Verdict.PERMANENT, 404)
    assert result.error == "Discord: Unknown Webhook"
    assert fake.calls[1:] == [("PATCH", original)]


def test_a_resolve_whose_post_fails_is_retried_whole(fake):
    original = send().reference
    fake.script.extend([None, 503])  # the edit goes through, the line that notifies does not

    first_try = send(resolved(make_notice()), original)
    second_try = send(resolved(make_notice()), original)

    assert (first_try.verdict, first_try.http_status) == (Verdict.RETRY, 503)
    assert second_try.verdict == Verdict.DELIVERED
    assert fake.calls[1:] == [("PATCH", original), ("POST", ""), ("PATCH", original), ("POST", "")]
    assert fake.messages[original]["embeds"][0]["title"].startswith("✅ RESOLVED")


def test_a_reference_that_is_not_a_message_id_is_never_put_in_a_path(fake):
    result = send(resolved(make_notice()), "../../channels/1")

    assert result.verdict == Verdict.DELIVERED
    assert fake.calls == [("POST", "")]


# The answers.


def test_a_204_is_delivered_without_a_reference(fake):
    fake.script.append(204)

    result = send()

    assert (result.verdict, result.http_status, result.reference) == (Verdict.DELIVERED, 204, "")


def test_a_429_waits_what_the_body_says_before_the_header(fake):
    fake.rate_limit(1.25, header="2")

    result = send()

    assert (result.verdict, result.http_status, result.retry_after) == (Verdict.RETRY, 429, 1.25)


def test_a_429_without_retry_after_in_the_body_waits_what_the_header_says(fake):
    fake.script.append((429, {"Retry-After": "3"}, {"message": "You are being rate limited."}))

    assert send().retry_after == 3.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_is_retried(fake, status):
    fake.script.append(status)

    assert send().verdict == Verdict.RETRY


def test_an_unknown_webhook_is_permanent(fake):
    result = send(url=f"https://discord.com/api/webhooks/1187650000000000000/{TOKEN}")

    assert (result.verdict, result.http_status) == (Verdict.PERMANENT, 404)
    assert result.error == "Discord: Unknown Webhook"


def test_a_wrong_token_is_permanent(fake):
    result = send(url=f"https://discord.com/api/webhooks/{WEBHOOK_ID}/not-the-token")

    assert (result.verdict, result.http_status) == (Verdict.PERMANENT, 401)
    assert result.error == "Discord: Invalid Webhook Token"


@pytest.mark.parametrize("status", [400, 403])
def test_a_refused_body_or_a_forbidden_webhook_is_permanent(fake, status):
    fake.script.append((status, {}, {"message": "Missing Permissions", "code": 50013}))

    assert send().verdict == Verdict.PERMANENT


def test_no_answer_is_retried(fake):
    fake.script.append(httpx.ConnectTimeout("timed out"))

    result = send()

    assert (result.verdict, result.http_status) == (Verdict.RETRY, None)
    assert "ConnectTimeout" in result.error


# Never refused for length.


def huge_notice(**overrides):
    fields = {
        "summary": "S" * 100_000,
        "policy": "P" * 50_000,
        "rule": "R" * 50_000,
        "group_label": "team " + "g" * 50_000,
        "model": "m" * 5_000,
        "top_errors": tuple((f"{n} " + "E" * 5_000, n) for n in range(30)),
        "sample_request_ids": tuple(f"chatcmpl-{n:06d}" + "x" * 100 for n in range(1_000)),
        "runbook_url": "https://wiki.example.com/" + "r" * 10_000,
    }
    return make_notice(**{**fields, **overrides})


def test_huge_texts_are_cut_to_fit_and_discord_takes_the_message(fake):
    result = send(huge_notice())

    assert result.verdict == Verdict.DELIVERED
    assert fake.refused == []
    sent = fake.messages[result.reference]
    embed = sent["embeds"][0]
    assert counted(sent["embeds"]) <= 6000
    assert len(sent["content"]) <= 2000
    assert len(embed["title"]) == 256
    assert embed["title"].endswith("…")
    assert [f["name"] for f in embed["fields"]] == [
        "Policy",
        "Rule",
        "Group",
        "Count",
        "Window",
        "Severity",
        "Since",
        "Team",
        "Model",
    ]


def test_a_long_description_gives_way_before_any_fact(fake):
    notice = make_notice(top_errors=tuple(("E" * 900, n) for n in range(10)))

    result = send(notice)

    embed = fake.messages[result.reference]["embeds"][0]
    assert counted([embed]) <= 6000
    assert embed["description"].endswith("…")
    assert embed["fields"][1] == {
        "name": "Rule",
        "value": "5 or more failed requests in 60 s",
        "inline": False,
    }


def test_a_summary_cut_from_the_title_is_shown_whole_in_the_description(fake):
    summary = "Provider errors for team " + "s" * 300

    result = send(make_notice(summary=summary, top_errors=(), sample_request_ids=()))

    embed = fake.messages[result.reference]["embeds"][0]
    assert embed["title"].endswith("…")
    assert embed["description"].startswith(summary)


def test_the_resolve_edit_of_a_huge_message_fits_too(fake):
    original = send(huge_notice()).reference

    result = send(resolved(huge_notice()), original)

    assert result.verdict == Verdict.DELIVERED
    assert fake.refused == []
    assert counted(fake.messages[original]["embeds"]) <= 6000


def test_the_fake_refuses_what_discord_refuses(fake):
    """The fake is strict enough to catch an over-long embed or a total over 6000."""
    too_long = {"embeds": [{"title": "t" * 257}]}
    over_total = {"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]}
    empty_field = {"embeds": [{"fields": [{"name": "x", "value": " "}]}]}

    answers = [
        http.request("POST", f"{URL}?wait=true", json=body)
        for body in (too_long, over_total, empty_field, {})
    ]

    assert [a.status_code for a in answers] == [400] * 4
    assert [a.content.count(b"50035") for a in answers[:3]] == [1, 1, 1]
    assert b"50006" in answers[3].content
    assert fake.posted == []


# Secrets.


def test_the_url_and_token_never_show_in_an_excerpt_or_error(fake):
    fake.script.append((400, {}, {"message": f"bad webhook {URL}", "token": TOKEN}))
    fake.script.append(httpx.ConnectError(f"could not reach {URL}"))

    results = [send(), send(), send()]

    for result in results:
        assert TOKEN not in result.excerpt + result.error
    assert results[0].error.startswith("Discord: bad webhook http…")  # masked
    assert results[1].verdict == Verdict.RETRY
    assert results[2].verdict == Verdict.DELIVERED
    assert results[2].excerpt  # the message Discord returned, without the token


def test_the_token_is_never_logged(fake, caplog):
    send()

    assert TOKEN not in caplog.text
