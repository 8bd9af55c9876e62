"""Slack: an incoming webhook (a message per transition), or a bot token and a channel id
(the trigger posted once, renotifies and the resolve replied in its thread, and the message
edited to show it resolved, as Grafana's and Alertmanager's Slack do).

Contract (see ../shared/reference/channels.md section 1, with its sources):
- Incoming webhooks (api.slack.com/messaging/webhooks; api.slack.com/changelog/
  2016-05-17-changes-to-errors-for-incoming-webhooks): POST JSON to
  ``https://hooks.slack.com/services/T…/B…/…``; success is HTTP 200 with the body ``ok``,
  anything else is a failure, even on a 200. The error is the body: ``invalid_payload``,
  ``user_not_found``, ``action_prohibited``, ``channel_not_found``, ``channel_is_archived``,
  ``invalid_token``, ``no_service``, ``no_active_hooks``, ``no_team``, ``team_disabled``,
  ``posting_to_general_channel_denied``, ``no_text`` are for good; 429 (with Retry-After,
  api.slack.com/apis/rate-limits) and 5xx (``rollup_error``) are retried. A webhook never
  returns the message's ``ts``, so it can neither thread nor edit.
- Web API (api.slack.com/methods/chat.postMessage, /methods/chat.update, /web): POST JSON with
  ``Authorization: Bearer xoxb-…`` to SLACK_API_URL. Every answer is JSON with ``ok``; failures
  mostly come as HTTP 200 ``{"ok": false, "error": …}``. HTTP 429 with Retry-After (error
  ``ratelimited``) and Slack's own transient errors are retried; every other error
  (``invalid_auth``, ``channel_not_found``, ``not_in_channel``, ``is_archived``,
  ``msg_too_long``, ``invalid_blocks``, ...) is for good. ``thread_ts`` is the parent's ``ts``.
  ``chat.update`` edits only the app's own messages; ``message_not_found``,
  ``cant_update_message`` and ``edit_window_closed`` do not fail a resolve.

The webhook URL and the token are the secret: they are never put in an excerpt or an error.
Messages are built in ``slack_blocks``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from policies import http
from policies.channels import slack_blocks
from policies.channels.base import (
    Event,
    Field,
    Notice,
    Result,
    Target,
    Verdict,
    answered,
    classify_http,
    no_answer,
)

WEBHOOK_HOST = "hooks.slack.com"
WEBHOOK_RE = re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+")
BOT_TOKEN_PREFIX = "xoxb-"  # noqa: S105 (a prefix, not a password)
BOT_TOKEN_RE = re.compile(r"xoxb-[A-Za-z0-9-]+")
CHANNEL_ID_RE = re.compile(r"[CGD][A-Z0-9]{8,}")  # public, private, direct
TS_RE = re.compile(r"[0-9]+\.[0-9]+")

# Webhook answers that say the webhook, its channel or the message is refused for good.
WEBHOOK_PERMANENT = frozenset(
    {
        "invalid_payload",
        "user_not_found",
        "action_prohibited",
        "channel_not_found",
        "channel_is_archived",
        "invalid_token",
        "no_service",
        "no_active_hooks",
        "no_service_id",
        "no_team",
        "team_disabled",
        "posting_to_general_channel_denied",
        "no_text",
        "too_many_attachments",
    }
)
# Web API errors that mean "not now": every other error is for good.
API_TRANSIENT = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)
# chat.update errors after which the resolve still goes out, as a reply or a fresh message.
EDIT_REFUSED = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})

_REVOKED = "the token or webhook is no longer valid: create a new one in Slack and paste it here"
_GONE = "the webhook was removed or disabled in Slack: create a new one and paste it here"
_OURS = "Slack refused the message itself; please report it"
MEANINGS = {
    "invalid_auth": _REVOKED,
    "not_authed": _REVOKED,
    "account_inactive": _REVOKED,
    "token_revoked": _REVOKED,
    "invalid_token": _REVOKED,
    "no_service": _GONE,
    "no_active_hooks": _GONE,
    "no_service_id": _GONE,
    "no_team": "the Slack workspace is gone",
    "team_disabled": "the Slack workspace is disabled",
    "channel_not_found": "no such channel for this app (for a private one, invite the app)",
    "not_in_channel": "the app is not in the channel: invite it (/invite @the-app)",
    "is_archived": "the channel is archived",
    "channel_is_archived": "the channel is archived",
    "action_prohibited": "a workspace admin's restriction blocks this webhook",
    "posting_to_general_channel_denied": "only admins may post in this channel",
    "missing_scope": "the app lacks the chat:write scope",
    "ratelimited": "Slack asked to slow down",
    "rate_limited": "Slack asked to slow down",
    "invalid_payload": _OURS,
    "invalid_blocks": _OURS,
    "msg_too_long": _OURS,
    "msg_blocks_too_long": _OURS,
    "no_text": _OURS,
}

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def secret_problem(secret: str) -> str:
    """Why this is neither a Slack incoming-webhook URL nor a bot token ("" if it is one)."""
    if secret.startswith(("xox", "xapp-")):  # Slack tokens: xoxb-, xoxp-, xapp-...
        if not secret.startswith(BOT_TOKEN_PREFIX):
            return (
                "This is not a bot token: use the app's Bot User OAuth Token (xoxb-…), "
                "from OAuth & Permissions in the app's settings."
            )
        if not BOT_TOKEN_RE.fullmatch(secret):
            return "A bot token (xoxb-…) has only letters, digits and dashes."
        return ""
    if not secret.startswith(("https://", "http://")):
        return (
            "Enter an incoming-webhook URL (https://hooks.slack.com/services/…) or a bot token "
            "(xoxb-…)."
        )
    parts = urlsplit(secret)
    if parts.hostname != WEBHOOK_HOST:
        return "This is not a Slack webhook URL: it must start https://hooks.slack.com/services/."
    if parts.path.startswith("/triggers/"):
        return (
            "This is a Workflow Builder webhook, which takes its workflow's variables, not "
            "messages: create an incoming webhook (https://api.slack.com/messaging/webhooks)."
        )
    if parts.scheme != "https":
        return "Slack webhook URLs use https."
    if not WEBHOOK_RE.fullmatch(secret):
        return (
            "This Slack webhook URL is incomplete: it reads "
            "https://hooks.slack.com/services/T…/B…/… (copy it whole from the app's settings)."
        )
    return ""


def channel_problem(secret: str, channel: str) -> str:
    """Why this channel setting does not go with this secret ("" if it does)."""
    if not secret.startswith(BOT_TOKEN_PREFIX):
        if channel:
            return (
                "Leave empty with a webhook URL: a webhook always posts to the channel chosen "
                "when it was created in Slack."
            )
        return ""
    if not channel:
        return "A bot token needs the ID of the channel to post in (like C0123ABCD)."
    if not CHANNEL_ID_RE.fullmatch(channel):
        return (
            "Use the channel's ID (like C0123ABCD), not its name: in Slack, open the channel's "
            "details; the ID is at the bottom."
        )
    return ""


@dataclass(frozen=True)
class Posted:
    """A message the app posted: what ``reference`` stores, as ``channel:ts``."""

    channel: str
    ts: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.ts}"

    def address(self) -> dict[str, str]:
        """Its thread, for chat.postMessage."""
        return {"channel": self.channel, "thread_ts": self.ts}


def parse_reference(reference: str, channel: str) -> Posted | None:
    """The incident's first message in this channel, if the reference names one."""
    posted_channel, _, ts = reference.partition(":")
    if posted_channel != channel or not TS_RE.fullmatch(ts):
        return None
    return Posted(posted_channel, ts)


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def describe(error: str) -> str:
    meaning = MEANINGS.get(error)
    return f"{error}: {meaning}" if meaning else error


# Incoming webhooks.


def post_webhook(url: str, body: Mapping[str, Any]) -> Result:
    started = time.monotonic()
    try:
        reply = http.request(
            "POST", url, content=encode(body), headers=JSON_HEADERS, untrusted=True
        )
    except httpx.HTTPError as exc:
        return no_answer(exc, started, url)
    answer = reply.text.strip()
    status = reply.status_code
    if status == 200 and answer == "ok":
        verdict, error = Verdict.DELIVERED, ""
    elif status in (408, 429) or status >= 500:
        verdict, error = Verdict.RETRY, describe(answer[:100])
    elif answer in WEBHOOK_PERMANENT:
        verdict, error = Verdict.PERMANENT, describe(answer)
    elif 200 <= status < 300:
        verdict, error = Verdict.PERMANENT, "Slack answered without ok"
    else:
        verdict, error = classify_http(status), ""
    return answered(reply, started, url, verdict=verdict, error=error)


# The Web API, with a bot token.


@dataclass(frozen=True)
class Call:
    """One Web API call's outcome: the Result, Slack's error code and what it posted."""

    result: Result
    error: str = ""
    posted: Posted | None = None


def call(method: str, token: str, body: Mapping[str, Any], started: float) -> Call:
    url = f"{settings.SLACK_API_URL.rstrip('/')}/{method}"
    headers = {**JSON_HEADERS, "Authorization": f"Bearer {token}"}
    try:
        reply = http.request("POST", url, content=encode(body), headers=headers)
    except httpx.HTTPError as exc:
        return Call(no_answer(exc, started, token))
    status = reply.status_code
    try:
        answer = json.loads(reply.content)
    except ValueError:
        answer = None
    error, posted = "", None
    if not isinstance(answer, dict):
        verdict = Verdict.PERMANENT if 200 <= status < 300 else classify_http(status)
        error = "not an answer of Slack's Web API"
    elif answer.get("ok") is True and 200 <= status < 300:
        verdict = Verdict.DELIVERED
        channel, ts = answer.get("channel"), answer.get("ts")
        if isinstance(channel, str) and isinstance(ts, str):
            posted = Posted(channel, ts)
    else:
        error = str(answer.get("error") or f"HTTP {status}")[:100]
        verdict = Verdict.PERMANENT
        if error in API_TRANSIENT or status in (408, 429) or status >= 500:
            verdict = Verdict.RETRY
    result = answered(
        reply, started, token, verdict=verdict, error=describe(error) if error else ""
    )
    return Call(result, error, posted)


class Bot:
    """One delivery to one channel with a bot token."""

    def __init__(self, token: str, channel: str) -> None:
        self.token = token
        self.channel = channel
        self.started = time.monotonic()

    def post(self, body: Mapping[str, Any], thread: Posted | None = None) -> Call:
        # Links to the console would unfurl into previews taking half a phone's screen.
        where = {"channel": self.channel} if thread is None else thread.address()
        return self.call("chat.postMessage", {**where, **body, "unfurl_links": False})

    def call(self, method: str, body: Mapping[str, Any]) -> Call:
        return call(method, self.token, body, self.started)

    def fresh(self, notice: Notice, note: str = "") -> Result:
        """The message as a new one: the first, or a parent that is gone. Its ts becomes
        the reference."""
        made = self.post(slack_blocks.message(notice))
        reference = str(made.posted) if made.posted else ""
        return replace(made.result, reference=reference, error=made.result.error or note)

    def reply(self, notice: Notice, parent: Posted, body: dict[str, Any], note: str) -> Result:
        """A reply in the parent's thread; a fresh message if the thread is gone."""
        made = self.post(body, thread=parent)
        if made.error == "thread_not_found":
            return self.fresh(notice, "the first message is gone: posted a new one")
        return replace(made.result, reference=str(parent), error=made.result.error or note)

    def deliver(self, notice: Notice, reference: str) -> Result:
        parent = parse_reference(reference, self.channel)
        if parent is None:
            return self.fresh(notice)
        if notice.event not in (Event.RESOLVE, Event.UPDATE):
            # A renotify (or a trigger sent again): a reply in the thread, also shown in the
            # channel, since a reminder nobody sees is none.
            body = {**slack_blocks.message(notice), "reply_broadcast": True}
            return self.reply(notice, parent, body, "")
        where = {"channel": parent.channel, "ts": parent.ts}
        edited = self.call("chat.update", {**where, **slack_blocks.message(notice)})
        if edited.error == "message_not_found":
            return self.fresh(notice, "the first message is gone: posted anew")
        if edited.result.verdict != Verdict.DELIVERED and edited.error not in EDIT_REFUSED:
            return replace(edited.result, reference=str(parent))
        note = f"could not edit the first message ({edited.error})" if edited.error else ""
        if notice.event == Event.UPDATE:
            # A change of severity is news: the reply is shown in the channel too.
            body = {**slack_blocks.severity_reply(notice), "reply_broadcast": True}
            return self.reply(notice, parent, body, note)
        return self.reply(notice, parent, slack_blocks.resolved_reply(notice), note)


class Slack:
    name: ClassVar[str] = "slack"
    label: ClassVar[str] = "Slack"
    credential_label: ClassVar[str] = "Webhook URL or bot token"
    credential_help: ClassVar[str] = (
        "Either an incoming-webhook URL (https://hooks.slack.com/services/…): a message per "
        "change. Or the app's bot token (xoxb-…, with the chat:write scope) and a channel ID: "
        "one message per incident, with reminders and the resolve in its thread, and the "
        "message marked resolved when it is over."
    )
    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "channel",
            "Channel ID",
            "With a bot token only: the ID of the channel to post in (like C0123ABCD; the "
            "channel's details show it at the bottom). Invite the app to the channel.",
        ),
    )

    def validate(self, secret: str, settings: Mapping[str, Any]) -> dict[str, str]:
        problems = {}
        secret_said = secret_problem(secret)
        if secret_said:
            problems["secret"] = secret_said
        channel_said = channel_problem(secret, str(settings.get("channel") or ""))
        if channel_said:
            problems["channel"] = channel_said
        return problems

    def render(self, notice: Notice, target: Target) -> Any:
        return slack_blocks.message(notice)

    def deliver(self, notice: Notice, target: Target, reference: str) -> Result:
        problems = self.validate(target.secret, target.settings)
        if problems:
            error = "; ".join(f"{name}: {reason}" for name, reason in problems.items())
            return Result(Verdict.PERMANENT, None, "", 0, error=error)
        if target.secret.startswith(BOT_TOKEN_PREFIX):
            return Bot(target.secret, str(target.settings["channel"])).deliver(notice, reference)
        return post_webhook(target.secret, slack_blocks.message(notice))
