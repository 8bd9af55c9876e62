"""The Slack channel kind: its settings, its messages to the byte, and its deliveries through
a fake Slack that refuses what Slack refuses, both by incoming webhook (a message per
transition) and by bot token (one message, replies in its thread, edited when resolved)."""

import logging
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from policies import http
from policies.channels import KINDS, slack_blocks
from policies.channels.base import Event, Notice, Target, Verdict
from policies.channels.slack import Slack
from tests.fakes.slack import NORMALLY, FakeSlack, block_text_length

API = "https://slack.test/api"
CHANNEL = "C0123ABCD"
TOKEN = "xoxb-1111-2222-fakefakefake"
HOOK_SECRET = "FAKEfake1234secret5678XYZ"
SLACK = Slack()

NOTICE = Notice(
    event=Event.TRIGGER,
    incident_id=42,
    dedup_key="ac-42",
    summary="Provider errors: 12 failed requests in 60 s for team search",
    severity="critical",
    policy="Provider errors",
    rule="5 or more failed requests in 60 s",
    policy_kind="failures",
    group="search",
    group_label="team search",
    count=12,
    threshold=5,
    peak=12,
    window_seconds=60,
    started_at=datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC),
    detected_at=datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC),
    noticed_at=datetime(2025, 3, 1, 12, 0, 6, tzinfo=UTC),
    team="search",
    model="gpt-4o",
    top_errors=(("RateLimitError 429", 9), ("Timeout", 3)),
    sample_request_ids=("req-1", "req-2"),
    runbook_url="https://wiki.example.com/runbooks/provider-errors",
    incident_url="https://console.example.com/admin/policies/incident/42/change/",
    silence_url="https://console.example.com/admin/policies/silence/add/?policy=7&group=search",
)
RENOTIFY = replace(NOTICE, event=Event.RENOTIFY, count=20, peak=20)
RESOLVE = replace(
    NOTICE,
    event=Event.RESOLVE,
    count=0,
    peak=20,
    resolved_at=datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
)


@pytest.fixture
def fake(monkeypatch, settings):
    """A fake Slack behind the console's one outbound HTTP seam, with a channel the app is in
    and its bot token."""
    fake = FakeSlack(api_base=API)
    fake.add_channel(CHANNEL)
    fake.add_token(TOKEN)
    settings.SLACK_API_URL = API
    monkeypatch.setattr(http, "transport", fake.transport())
    return fake


def bot(channel=CHANNEL, token=TOKEN):
    return Target(id=1, name="#search-alerts", secret=token, settings={"channel": channel})


def hook(url):
    return Target(id=2, name="#search-alerts (webhook)", secret=url, settings={"channel": ""})


# The registry and the settings.


def test_it_is_registered_as_slack():
    assert isinstance(KINDS["slack"], Slack)
    assert [f.name for f in SLACK.fields] == ["channel"]


def test_a_webhook_url_without_a_channel_is_valid():
    url = f"https://hooks.slack.com/services/T0FAKE001/B0FAKE002/{HOOK_SECRET}"
    assert SLACK.validate(url, {"channel": ""}) == {}
    assert SLACK.validate(url, {}) == {}


def test_a_bot_token_with_a_channel_id_is_valid():
    assert SLACK.validate(TOKEN, {"channel": CHANNEL}) == {}
    assert SLACK.validate(TOKEN, {"channel": "G01ABCDEFGH"}) == {}


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("", "Enter an incoming-webhook URL"),
        ("my-webhook", "Enter an incoming-webhook URL"),
        ("hooks.slack.com/services/T0/B0/abc", "Enter an incoming-webhook URL"),
        ("https://example.com/services/T0FAKE001/B0FAKE002/abc", "not a Slack webhook URL"),
        ("https://hooks.slack.com.evil.example/services/T0/B0/abc", "not a Slack webhook URL"),
        ("http://hooks.slack.com/services/T0FAKE001/B0FAKE002/abc", "use https"),
        ("https://hooks.slack.com/services/T0FAKE001/B0FAKE002", "incomplete"),
        ("https://hooks.slack.com/services/T0FAKE001/B0FAKE002/abc?x=1", "incomplete"),
        ("https://hooks.slack.com/triggers/T0FAKE001/123/abc", "Workflow Builder"),
        ("xoxp-1111-2222-userusertoken", "not a bot token"),
        ("xapp-1-A0FAKE-1111-apptoken", "not a bot token"),
        ("xoxb-1111 2222", "letters, digits and dashes"),
    ],
)
def test_a_bad_credential_is_refused_with_its_reason(secret, reason):
    problems = SLACK.validate(secret, {"channel": ""})
    assert reason in problems["secret"]
    if len(secret) > 8:
        assert secret not in problems["secret"]


@pytest.mark.parametrize(
    ("channel", "reason"),
    [
        ("", "needs the ID of the channel"),
        ("#alerts", "Use the channel's ID"),
        ("alerts", "Use the channel's ID"),
        ("c0123abcd", "Use the channel's ID"),
        ("U0123ABCD", "Use the channel's ID"),
    ],
)
def test_a_bot_token_needs_a_channel_id(channel, reason):
    assert reason in SLACK.validate(TOKEN, {"channel": channel})["channel"]


def test_a_webhook_url_refuses_a_channel():
    url = f"https://hooks.slack.com/services/T0FAKE001/B0FAKE002/{HOOK_SECRET}"
    problems = SLACK.validate(url, {"channel": CHANNEL})
    assert list(problems) == ["channel"]
    assert "Leave empty with a webhook URL" in problems["channel"]


def test_an_invalid_target_is_refused_for_good_without_a_call(fake):
    result = SLACK.deliver(NOTICE, bot(channel="#alerts"), "")
    assert result.verdict == Verdict.PERMANENT
    assert result.http_status is None
    assert "channel: Use the channel's ID" in result.error
    assert fake.calls == []


# The message.

FIELDS = [
    "*Policy*\nProvider errors",
    "*Rule*\n5 or more failed requests in 60 s",
    "*Group*\nteam search",
    "*Count*\n12 (threshold 5, peak 12)",
    "*Window*\n60 s",
    "*Severity*\ncritical",
    "*Since*\n2025-03-01 12:00:00 UTC",
    "*Team*\nsearch",
    "*Model*\ngpt-4o",
]
LINKS = (
    "<https://console.example.com/admin/policies/incident/42/change/|Open in the console> · "
    "<https://wiki.example.com/runbooks/provider-errors|Runbook> · "
    "<https://console.example.com/admin/policies/silence/add/?policy=7&amp;group=search|Silence>"
)
TITLE = "🔴 FIRING [critical] Provider errors: 12 failed requests in 60 s for team search"
MESSAGE = {
    "text": (
        f"{TITLE}\n\n"
        "Policy: Provider errors\nRule: 5 or more failed requests in 60 s\nGroup: team search\n"
        "Count: 12 (threshold 5, peak 12)\nWindow: 60 s\nSeverity: critical\n"
        "Since: 2025-03-01 12:00:00 UTC\nTeam: search\nModel: gpt-4o\n\n"
        "Top errors:\n  RateLimitError 429: 9\n  Timeout: 3\n\n"
        "Sample request ids: req-1, req-2\n\n"
        "Open in the console: https://console.example.com/admin/policies/incident/42/change/\n"
        "Runbook: https://wiki.example.com/runbooks/provider-errors\n"
        "Silence: https://console.example.com/admin/policies/silence/add/?policy=7&group=search"
    ),
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": TITLE, "emoji": True}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in FIELDS]},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Top errors*\n```\nRateLimitError 429: 9\nTimeout: 3\n```",
            },
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "*Sample request ids:* `req-1`, `req-2`"}],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": LINKS}]},
    ],
}


def test_the_message_reads_header_facts_errors_ids_links():
    assert slack_blocks.message(NOTICE) == MESSAGE


def test_the_resolved_message_says_so_with_a_green_check():
    message = slack_blocks.message(RESOLVE)
    header = message["blocks"][0]["text"]["text"]
    assert header.startswith("✅ RESOLVED [critical] Provider errors")
    assert message["text"].startswith("✅ RESOLVED")
    assert {"type": "mrkdwn", "text": "*Resolved*\n2025-03-01 12:30:00 UTC"} in message["blocks"][
        1
    ]["fields"]


def test_the_resolved_reply_is_short():
    assert slack_blocks.resolved_reply(RESOLVE) == {
        "text": (
            "✅ Resolved at 2025-03-01 12:30:00 UTC: peak 20 (threshold 5). "
            "Provider errors: 12 failed requests in 60 s for team search"
        ),
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        "✅ Resolved at 2025-03-01 12:30:00 UTC: peak 20 (threshold 5). "
                        "Provider errors: 12 failed requests in 60 s for team search"
                    ),
                },
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": LINKS}]},
        ],
    }


def test_a_message_without_errors_ids_or_links_has_no_empty_block():
    bare = replace(NOTICE, top_errors=(), sample_request_ids=(), runbook_url="", incident_url="")
    bare = replace(bare, silence_url="")
    assert [b["type"] for b in slack_blocks.message(bare)["blocks"]] == ["header", "section"]


def test_names_and_errors_cannot_ping_the_channel_or_break_a_link():
    notice = replace(
        NOTICE,
        policy="<!channel> & <@U0123> policy",
        top_errors=(("```<!here> boom```", 1),),
        sample_request_ids=("req`<x>",),
        runbook_url="https://wiki.example.com/a|b>c",
    )
    blocks = slack_blocks.message(notice)["blocks"]
    mrkdwn = [
        *(f["text"] for f in blocks[1]["fields"]),
        blocks[2]["text"]["text"],
        blocks[3]["elements"][0]["text"],
        blocks[4]["elements"][0]["text"],
    ]
    assert mrkdwn[0] == "*Policy*\n&lt;!channel&gt; &amp; &lt;@U0123&gt; policy"
    assert mrkdwn[-3] == "*Top errors*\n```\n'''&lt;!here&gt; boom''': 1\n```"
    assert mrkdwn[-2] == "*Sample request ids:* `req&lt;x&gt;`"
    assert "<https://wiki.example.com/a%7Cb&gt;c|Runbook>" in mrkdwn[-1]
    assert not any("<!" in text or "<@" in text for text in mrkdwn)


def test_a_header_too_long_is_cut_and_the_summary_shown_whole_below():
    notice = replace(NOTICE, summary="Provider errors for team search " + "x" * 200)
    blocks = slack_blocks.message(notice)["blocks"]
    header = blocks[0]["text"]["text"]
    assert len(header) == 150
    assert header.endswith("…")
    assert blocks[1] == {"type": "section", "text": {"type": "mrkdwn", "text": notice.summary}}


HUGE = replace(
    NOTICE,
    summary="Provider errors <&> " * 10_000,
    policy="P&" * 5000,
    group_label="team " + "g" * 5000,
    top_errors=tuple((f"ProviderError {n} " + "<detail> " * 100, n) for n in range(1000)),
    sample_request_ids=tuple(f"req-{n}-" + "&" * 200 for n in range(1000)),
    runbook_url="https://wiki.example.com/" + "r" * 5000,
)


def test_a_huge_notice_fits_every_limit():
    message = slack_blocks.message(HUGE)
    assert len(message["text"]) <= 4000
    blocks = message["blocks"]
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150
    assert len(blocks[1]["text"]["text"]) <= 3000
    assert all(len(f["text"]) <= 2000 for f in blocks[2]["fields"])
    errors = blocks[3]["text"]["text"]
    assert len(errors) <= 3000
    assert errors.endswith("more in the console\n```")
    assert "&lt;detail&gt;" in errors
    # A link too long to fit is left out whole rather than cut.
    assert "Runbook" not in blocks[-1]["elements"][0]["text"]
    assert "Open in the console" in blocks[-1]["elements"][0]["text"]
    assert block_text_length(blocks) < 9000


def test_a_cut_never_leaves_half_an_entity():
    assert slack_blocks.fit("ab&amp;cd", 5) == "ab…"
    assert slack_blocks.fit("ab&amp;cd", 8) == "ab&amp;…"
    assert slack_blocks.fit("abc", 3) == "abc"


# The fake refuses what Slack refuses, so the tests through it mean something.


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "no_text"),
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"text": "x", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        (
            {
                "text": "x",
                "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            },
            "invalid_blocks",
        ),
        (
            {"text": "x", "blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}]},
            "invalid_blocks",
        ),
        (
            {
                "text": "x",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}],
            },
            "invalid_blocks",
        ),
        (
            {
                "text": "x",
                "blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
            },
            "invalid_blocks",
        ),
        (
            {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}]},
            "invalid_blocks",
        ),
        (
            {
                "text": "x",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3000}}] * 5,
            },
            "msg_blocks_too_long",
        ),
    ],
)
def test_the_fake_refuses_what_slack_refuses(fake, body, error):
    url = fake.add_webhook(CHANNEL, HOOK_SECRET)
    with httpx.Client(transport=fake.transport()) as client:
        by_webhook = client.post(url, json=body)
        by_api = client.post(
            f"{API}/chat.postMessage",
            json={"channel": CHANNEL, **body},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert (by_webhook.status_code, by_webhook.text) == (400, error)
    assert by_api.json() == {"ok": False, "error": error}
    assert fake.messages == []


def test_the_fake_refuses_a_web_api_call_that_is_not_json(fake):
    with httpx.Client(transport=fake.transport()) as client:
        reply = client.post(
            f"{API}/chat.postMessage",
            data={"channel": CHANNEL, "text": "hi"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert reply.json() == {"ok": False, "error": "invalid_form_data"}


# Incoming webhooks: a message per transition.


def test_a_webhook_posts_the_message_as_json(fake):
    url = fake.add_webhook(CHANNEL, HOOK_SECRET)
    result = SLACK.deliver(NOTICE, hook(url), "")
    assert result.verdict == Verdict.DELIVERED
    assert (result.http_status, result.excerpt, result.reference) == (200, "ok", "")
    [(called, headers, body)] = fake.calls
    assert called == url
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert "authorization" not in headers
    assert body == MESSAGE


def test_a_webhook_gets_a_message_for_each_transition(fake):
    url = fake.add_webhook(CHANNEL, HOOK_SECRET)
    results = [SLACK.deliver(n, hook(url), "") for n in (NOTICE, RENOTIFY, RESOLVE)]
    assert [r.verdict for r in results] == [Verdict.DELIVERED] * 3
    assert [m.header.split(" [")[0] for m in fake.in_channel(CHANNEL)] == [
        "🔴 FIRING",
        "🔴 STILL FIRING",
        "✅ RESOLVED",
    ]
    assert all(m.text and not m.replies and not m.edits for m in fake.messages)


def test_a_webhook_slack_does_not_know_is_refused_for_good(fake):
    fake.add_webhook(CHANNEL, HOOK_SECRET)
    url = f"https://hooks.slack.com/services/T0FAKE001/B0FAKE002/{'Z' * 24}"
    result = SLACK.deliver(NOTICE, hook(url), "")
    assert result.verdict == Verdict.PERMANENT
    assert result.http_status == 404
    assert "no_service" in result.error
    assert "create a new one" in result.error


def test_a_webhook_to_an_archived_channel_is_refused_for_good(fake):
    url = fake.add_webhook(fake.add_channel("C0ARCHIVED1", "archived"), HOOK_SECRET)
    result = SLACK.deliver(NOTICE, hook(url), "")
    assert (result.verdict, result.http_status) == (Verdict.PERMANENT, 410)
    assert result.error == "channel_is_archived: the channel is archived"


@pytest.mark.parametrize(
    ("answer", "verdict", "retry_after"),
    [
        ((429, {"Retry-After": "30"}, "rate_limited"), Verdict.RETRY, 30.0),
        ((429, {}, ""), Verdict.RETRY, None),
        ((500, {}, "rollup_error"), Verdict.RETRY, None),
        ((503, {}, "<html>busy</html>"), Verdict.RETRY, None),
        ((400, {}, "invalid_payload"), Verdict.PERMANENT, None),
        ((400, {}, "user_not_found"), Verdict.PERMANENT, None),
        ((403, {}, "action_prohibited"), Verdict.PERMANENT, None),
        ((404, {}, "channel_not_found"), Verdict.PERMANENT, None),
        ((410, {}, "channel_is_archived"), Verdict.PERMANENT, None),
        ((403, {}, "invalid_token"), Verdict.PERMANENT, None),
        ((404, {}, "no_service"), Verdict.PERMANENT, None),
        ((404, {}, "no_active_hooks"), Verdict.PERMANENT, None),
        ((404, {}, "no_team"), Verdict.PERMANENT, None),
        ((404, {}, "team_disabled"), Verdict.PERMANENT, None),
        ((403, {}, "posting_to_general_channel_denied"), Verdict.PERMANENT, None),
        ((400, {}, "no_text"), Verdict.PERMANENT, None),
        ((401, {}, "who are you"), Verdict.PERMANENT, None),
        # An error on a 200 is still an error.
        ((200, {}, "invalid_token"), Verdict.PERMANENT, None),
        ((200, {}, ""), Verdict.PERMANENT, None),
        ((200, {}, "<html>proxy login</html>"), Verdict.PERMANENT, None),
        ((204, {}, ""), Verdict.PERMANENT, None),
    ],
)
def test_each_webhook_answer_is_classified(fake, answer, verdict, retry_after):
    url = fake.add_webhook(CHANNEL, HOOK_SECRET)
    fake.script.append(answer)
    result = SLACK.deliver(NOTICE, hook(url), "")
    assert result.verdict == verdict
    assert result.http_status == answer[0]
    assert result.retry_after == retry_after
    if answer[2] in ("invalid_token", "no_service", "channel_not_found"):
        assert result.error.startswith(answer[2])


def test_a_webhook_that_does_not_answer_is_retried(fake):
    url = fake.add_webhook(CHANNEL, HOOK_SECRET)
    fake.script.append(httpx.ReadTimeout("timed out"))
    result = SLACK.deliver(NOTICE, hook(url), "")
    assert (result.verdict, result.http_status) == (Verdict.RETRY, None)
    assert "ReadTimeout" in result.error


# A bot token: one message, its thread, edited when resolved.


def test_the_trigger_is_posted_with_the_bot_token(fake):
    result = SLACK.deliver(NOTICE, bot(), "")
    [message] = fake.in_channel(CHANNEL)
    assert result.verdict == Verdict.DELIVERED
    assert result.reference == f"{CHANNEL}:{message.ts}"
    [(url, headers, body)] = fake.calls
    assert url == f"{API}/chat.postMessage"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert body == {"channel": CHANNEL, **MESSAGE, "unfurl_links": False}


def test_renotify_and_resolve_go_to_the_thread_and_the_message_is_edited(fake):
    first = SLACK.deliver(NOTICE, bot(), "")
    again = SLACK.deliver(RENOTIFY, bot(), first.reference)
    over = SLACK.deliver(RESOLVE, bot(), first.reference)
    assert [r.verdict for r in (first, again, over)] == [Verdict.DELIVERED] * 3
    assert again.reference == over.reference == first.reference
    [message] = fake.in_channel(CHANNEL)
    # The original message now says it is over, with every fact of the resolve.
    [edit] = message.edits
    assert edit == {"channel": CHANNEL, "ts": message.ts, **slack_blocks.message(RESOLVE)}
    assert message.header.startswith("✅ RESOLVED [critical]")
    reminder, resolved = message.replies
    assert reminder.header.startswith("🔴 STILL FIRING")
    assert reminder.broadcast  # a reminder is also shown in the channel
    assert resolved.text.startswith("✅ Resolved at 2025-03-01 12:30:00 UTC")
    assert not resolved.broadcast
    renotify_body = fake.calls[1][2]
    assert renotify_body == {
        "channel": CHANNEL,
        "thread_ts": message.ts,
        **slack_blocks.message(RENOTIFY),
        "reply_broadcast": True,
        "unfurl_links": False,
    }
    assert [c[0].rsplit("/", 1)[1] for c in fake.calls] == [
        "chat.postMessage",
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
    ]


def test_a_change_of_severity_edits_the_message_and_says_so_in_the_channel(fake):
    warning = replace(NOTICE, severity="warning")
    critical = replace(NOTICE, event=Event.UPDATE, severity="critical", count=14)
    first = SLACK.deliver(warning, bot(), "")

    changed = SLACK.deliver(critical, bot(), first.reference)

    assert changed.verdict == Verdict.DELIVERED
    assert changed.reference == first.reference
    [message] = fake.in_channel(CHANNEL)
    [edit] = message.edits
    assert edit == {"channel": CHANNEL, "ts": message.ts, **slack_blocks.message(critical)}
    assert message.header.startswith("🔴 FIRING [critical]")
    [reply] = message.replies
    assert reply.text == f"🔴 Now critical: {NOTICE.summary}"
    assert reply.broadcast  # news, not a footnote


def test_a_resolve_without_a_first_message_is_posted_fresh(fake):
    result = SLACK.deliver(RESOLVE, bot(), "")
    [message] = fake.in_channel(CHANNEL)
    assert result.verdict == Verdict.DELIVERED
    assert result.reference == f"{CHANNEL}:{message.ts}"
    assert message.header.startswith("✅ RESOLVED")


def test_a_reference_to_another_channel_is_not_followed(fake):
    """The channel was changed after the trigger: the resolve goes where people now look."""
    old = fake.add_channel("C0OLDCHAN1")
    first = SLACK.deliver(NOTICE, bot(channel=old), "")
    result = SLACK.deliver(RESOLVE, bot(), first.reference)
    assert result.verdict == Verdict.DELIVERED
    assert [m.header[:10] for m in fake.in_channel(CHANNEL)] == ["✅ RESOLVED"]
    assert fake.in_channel(old)[0].edits == []


@pytest.mark.parametrize("reference", ["junk", f"{CHANNEL}:", f"{CHANNEL}:notats", ":1.2"])
def test_a_malformed_reference_means_a_fresh_message(fake, reference):
    result = SLACK.deliver(RENOTIFY, bot(), reference)
    assert result.verdict == Verdict.DELIVERED
    [message] = fake.in_channel(CHANNEL)
    assert not message.thread_ts


@pytest.mark.parametrize("refused", ["edit_window_closed", "cant_update_message"])
def test_a_message_that_cannot_be_edited_still_gets_the_resolve_reply(fake, refused):
    first = SLACK.deliver(NOTICE, bot(), "")
    fake.script.append({"ok": False, "error": refused})
    result = SLACK.deliver(RESOLVE, bot(), first.reference)
    assert result.verdict == Verdict.DELIVERED
    assert result.reference == first.reference
    assert refused in result.error
    [message] = fake.in_channel(CHANNEL)
    assert message.edits == []
    [reply] = message.replies
    assert reply.text.startswith("✅ Resolved at")


def test_a_message_posted_by_another_app_cannot_be_edited_but_the_resolve_goes_out(fake):
    first = SLACK.deliver(NOTICE, bot(), "")
    other = fake.add_token("xoxb-9999-8888-otherotherot")
    result = SLACK.deliver(RESOLVE, bot(token=other), first.reference)
    assert result.verdict == Verdict.DELIVERED
    assert "cant_update_message" in result.error
    assert len(fake.in_channel(CHANNEL)[0].replies) == 1


def test_a_deleted_first_message_means_the_resolve_is_posted_anew(fake):
    first = SLACK.deliver(NOTICE, bot(), "")
    fake.delete(fake.messages[0])
    result = SLACK.deliver(RESOLVE, bot(), first.reference)
    assert result.verdict == Verdict.DELIVERED
    [message] = fake.in_channel(CHANNEL)
    assert message.header.startswith("✅ RESOLVED")
    assert result.reference == f"{CHANNEL}:{message.ts}" != first.reference
    assert "gone" in result.error


def test_a_deleted_first_message_means_the_reminder_is_posted_anew(fake):
    first = SLACK.deliver(NOTICE, bot(), "")
    fake.delete(fake.messages[0])
    result = SLACK.deliver(RENOTIFY, bot(), first.reference)
    assert result.verdict == Verdict.DELIVERED
    [message] = fake.in_channel(CHANNEL)
    assert message.header.startswith("🔴 STILL FIRING")
    assert result.reference == f"{CHANNEL}:{message.ts}"


def test_a_rate_limited_edit_is_retried_and_nothing_is_posted(fake):
    first = SLACK.deliver(NOTICE, bot(), "")
    fake.script.append((429, {"Retry-After": "7"}, {"ok": False, "error": "ratelimited"}))
    result = SLACK.deliver(RESOLVE, bot(), first.reference)
    assert (result.verdict, result.http_status, result.retry_after) == (Verdict.RETRY, 429, 7.0)
    assert result.reference == first.reference
    assert fake.messages[0].replies == []


def test_a_resolve_retried_after_its_reply_failed_replies_once(fake):
    first = SLACK.deliver(NOTICE, bot(), "")
    fake.script.extend([NORMALLY, 503])  # the edit is made, the reply is not
    failed = SLACK.deliver(RESOLVE, bot(), first.reference)
    assert (failed.verdict, failed.reference) == (Verdict.RETRY, first.reference)
    again = SLACK.deliver(RESOLVE, bot(), first.reference)
    assert again.verdict == Verdict.DELIVERED
    [message] = fake.messages
    assert len(message.edits) == 2  # the same edit again: no harm
    assert len(message.replies) == 1


def test_a_revoked_token_fails_the_resolve_for_good(fake):
    first = SLACK.deliver(NOTICE, bot(), "")
    fake.tokens.clear()
    result = SLACK.deliver(RESOLVE, bot(), first.reference)
    assert result.verdict == Verdict.PERMANENT
    assert result.error.startswith("invalid_auth: the token or webhook is no longer valid")
    assert result.reference == first.reference


@pytest.mark.parametrize(
    ("state", "error"),
    [("outside", "not_in_channel"), ("archived", "is_archived"), (None, "channel_not_found")],
)
def test_a_channel_the_app_cannot_post_in_is_refused_for_good(fake, state, error):
    channel = "C0ELSEWHER"
    if state:
        fake.add_channel(channel, state)
    result = SLACK.deliver(NOTICE, bot(channel=channel), "")
    assert (result.verdict, result.http_status) == (Verdict.PERMANENT, 200)
    assert result.error.startswith(error)
    assert result.reference == ""


def test_an_unknown_token_is_refused_for_good(fake):
    result = SLACK.deliver(NOTICE, bot(token="xoxb-0000-0000-unknownunkno"), "")
    assert result.verdict == Verdict.PERMANENT
    assert result.error.startswith("invalid_auth")


@pytest.mark.parametrize(
    ("answer", "verdict", "retry_after"),
    [
        ((429, {"Retry-After": "30"}, {"ok": False, "error": "ratelimited"}), Verdict.RETRY, 30.0),
        ({"ok": False, "error": "rate_limited"}, Verdict.RETRY, None),
        ({"ok": False, "error": "ratelimited"}, Verdict.RETRY, None),
        ({"ok": False, "error": "internal_error"}, Verdict.RETRY, None),
        ({"ok": False, "error": "service_unavailable"}, Verdict.RETRY, None),
        ((500, {}, {"ok": False, "error": "fatal_error"}), Verdict.RETRY, None),
        ((502, {}, "<html>bad gateway</html>"), Verdict.RETRY, None),
        ({"ok": False, "error": "invalid_auth"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "not_authed"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "account_inactive"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "token_revoked"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "channel_not_found"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "not_in_channel"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "is_archived"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "channel_is_archived"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "no_service"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "invalid_token"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "msg_too_long"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "invalid_blocks"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "msg_blocks_too_long"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "no_text"}, Verdict.PERMANENT, None),
        ({"ok": False, "error": "missing_scope"}, Verdict.PERMANENT, None),
        ({"ok": False}, Verdict.PERMANENT, None),
        ("<html>proxy login</html>", Verdict.PERMANENT, None),
        ((401, {}, "who are you"), Verdict.PERMANENT, None),
    ],
)
def test_each_web_api_answer_is_classified(fake, answer, verdict, retry_after):
    result = SLACK.deliver(NOTICE, bot(), "")
    assert result.verdict == Verdict.DELIVERED  # the fake, unscripted, takes it
    fake.script.append(answer)
    result = SLACK.deliver(NOTICE, bot(), "")
    assert result.verdict == verdict
    assert result.retry_after == retry_after
    assert result.reference == ""
    error = answer[2] if isinstance(answer, tuple) else answer
    if isinstance(error, dict) and "error" in error:
        assert result.error.startswith(error["error"])


def test_a_web_api_that_does_not_answer_is_retried(fake):
    fake.script.append(httpx.ConnectTimeout("timed out"))
    result = SLACK.deliver(NOTICE, bot(), "")
    assert (result.verdict, result.http_status) == (Verdict.RETRY, None)


# Never refused for length.


def test_a_huge_notice_is_taken_by_webhook_and_bot_alike(fake):
    url = fake.add_webhook(CHANNEL, HOOK_SECRET)
    huge = [HUGE, replace(HUGE, event=Event.RENOTIFY), replace(HUGE, event=Event.RESOLVE)]
    assert [SLACK.deliver(n, hook(url), "").verdict for n in huge] == [Verdict.DELIVERED] * 3
    first = SLACK.deliver(huge[0], bot(), "")
    later = [SLACK.deliver(n, bot(), first.reference) for n in huge[1:]]
    assert [r.verdict for r in (first, *later)] == [Verdict.DELIVERED] * 3
    assert fake.refused == []
    assert len(fake.messages[-1].replies) == 2
    assert len(fake.messages[-1].edits) == 1


# Secrets.


def test_a_webhook_secret_never_shows_in_an_error_or_excerpt(fake, monkeypatch):
    url = fake.add_webhook(CHANNEL, HOOK_SECRET)

    def refuse(request):
        raise httpx.ConnectError(f"cannot reach {request.url}")

    monkeypatch.setattr(http, "transport", httpx.MockTransport(refuse))
    unreached = SLACK.deliver(NOTICE, hook(url), "")
    assert unreached.verdict == Verdict.RETRY
    assert "cannot reach" in unreached.error
    monkeypatch.setattr(http, "transport", fake.transport())
    fake.script.append((400, {}, f"invalid_payload for {url}"))
    echoed = SLACK.deliver(NOTICE, hook(url), "")
    for result in (unreached, echoed):
        assert HOOK_SECRET not in result.excerpt + result.error + result.describe()


def test_a_bot_token_never_shows_in_an_error_or_excerpt(fake, monkeypatch):
    def refuse(request):
        raise httpx.ConnectError(f"refused {request.headers['authorization']}")

    monkeypatch.setattr(http, "transport", httpx.MockTransport(refuse))
    unreached = SLACK.deliver(NOTICE, bot(), "")
    assert "refused" in unreached.error
    monkeypatch.setattr(http, "transport", fake.transport())
    fake.script.append({"ok": False, "error": "invalid_auth", "token": TOKEN})
    echoed = SLACK.deliver(NOTICE, bot(), "")
    for result in (unreached, echoed):
        assert TOKEN not in result.excerpt + result.error + result.describe()


def test_no_secret_is_logged(fake, caplog):
    caplog.set_level(logging.DEBUG)
    url = fake.add_webhook(CHANNEL, HOOK_SECRET)
    for notice in (NOTICE, RENOTIFY, RESOLVE):
        SLACK.deliver(notice, hook(url), "")
    first = SLACK.deliver(NOTICE, bot(), "")
    SLACK.deliver(RESOLVE, bot(), first.reference)
    assert len(fake.calls) == 6
    assert HOOK_SECRET not in caplog.text
    assert TOKEN not in caplog.text
