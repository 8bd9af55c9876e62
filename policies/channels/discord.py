"""Discord, through a channel's webhook: the trigger is one message with an embed, whose id
is kept; a renotify is a new message; the resolve edits the first message to show it resolved
(green, ✅) and posts a short "resolved" line, since an edit notifies nobody.

Renotify is a new message, not a reply: a webhook cannot reply (the execute call takes no
``message_reference``; discord/discord-api-docs#2251). Its reference stays the first message's
id, so the resolve edits the message that said FIRING.

Contract (../shared/reference/channels.md, section 3; discord/discord-api-docs
``developers/resources/webhook.mdx``, ``resources/message.mdx``, ``topics/rate-limits.mdx``):
- Execute: ``POST https://discord.com/api/webhooks/{id}/{token}?wait=true``; with ``wait``
  the answer is 200 with the message (its ``id`` is kept), and a message that could not be
  saved is an error instead of a silent 204. Edit: ``PATCH .../messages/{message_id}``.
  ``?thread_id=`` posts (and edits) in a thread. Not the ``/slack`` or ``/github`` shims.
- Limits: content 2000; ≤10 embeds; title 256, description 4096, ≤25 fields, field name 256,
  value 1024, footer 2048, and these summed over all embeds ≤6000, counted after trimming
  leading and trailing whitespace; more is a 400. We cut to fit, never fail for length.
  ``color`` is an integer. ``allowed_mentions: {"parse": []}``: nothing in a summary pings.
- Answers: 200/204 taken. 429 (body ``{"retry_after": <float s>, "global": ...}``, header
  ``Retry-After``): retry then. 5xx: retry. 401 (bad token), 403, 404 ``Unknown Webhook``
  (code 10015), 400 (a body Discord refuses): refused for good; more than 10,000 invalid
  requests in 10 minutes gets the address banned, so dead webhooks are never retried. In a
  resolve, a first message that is gone (404 ``Unknown Message``, code 10008) is no failure:
  the resolve is posted as a new message.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import httpx

from policies import http
from policies.channels import text
from policies.channels.base import (
    Event,
    Field,
    Notice,
    Result,
    Target,
    Verdict,
    answered,
    classify_http,
    ms_since,
    no_answer,
    scrub,
    truncate,
)
from policies.channels.base import retry_after as retry_after_header

HOSTS = ("discord.com", "discordapp.com")
PATH_RE = re.compile(r"/api(?:/v\d+)?/webhooks/(?P<id>[^/]+)/(?P<token>[^/]+)(?P<rest>/.*)?")
TOKEN_RE = re.compile(r"[A-Za-z0-9_.-]+")
SHAPE = "A Discord webhook URL looks like https://discord.com/api/webhooks/<id>/<token>."

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
TOTAL_LIMIT = 6000  # title + description + field names and values + footer, all embeds
VALUE_FLOOR = 64  # a fact is cut no shorter than this while the description can give room
FALLBACK_LIMIT = 256  # the content line (≤2000) above the embed: what a phone shows
URL_LIMIT = 2048
MAX_ERRORS = 10
MAX_REQUEST_IDS = 10
NO_MENTIONS: dict[str, list[str]] = {"parse": []}

UNKNOWN_MESSAGE = 10008
# Markdown that would format or link: anywhere, and the marks of headings, quotes and lists
# at the start of a line.
MARKDOWN = re.compile(r"([\\*_~`|<>\[\]])|^([#>+-])", re.MULTILINE)


@dataclass(frozen=True)
class Webhook:
    base: str  # https://discord.com/api/webhooks/{id}/{token}
    token: str
    thread_id: str = ""

    def execute_url(self) -> str:
        thread = f"&thread_id={self.thread_id}" if self.thread_id else ""
        return f"{self.base}?wait=true{thread}"

    def message_url(self, message_id: str) -> str:
        thread = f"?thread_id={self.thread_id}" if self.thread_id else ""
        return f"{self.base}/messages/{message_id}{thread}"


def parse(url: str) -> tuple[Webhook | None, str]:
    """The webhook, or None and why this is not a Discord webhook URL."""
    if not url:
        return None, "Paste the URL from the channel's Integrations → Webhooks → Copy Webhook URL."
    if any(c.isspace() or ord(c) < 32 for c in url):
        return None, "The URL has spaces or line breaks in it; paste it again, in one piece."
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
        has_user = parts.username is not None or parts.password is not None
    except ValueError:
        return None, "This is not a URL."
    if parts.scheme != "https":
        return None, "A Discord webhook URL starts with https://."
    if not host:
        return None, "The URL has no host name."
    if host not in HOSTS:
        return None, f"A Discord webhook URL is on discord.com (or discordapp.com), not {host}."
    if has_user or port not in (None, 443) or parts.fragment:
        return None, SHAPE
    match = PATH_RE.fullmatch(parts.path)
    if not match:
        return None, SHAPE
    rest = (match["rest"] or "").rstrip("/")
    if rest in ("/slack", "/github"):
        return None, (
            f"This is Discord's {rest[1:].title()}-compatible address (…{rest}); remove "
            f"{rest} from the end: the console posts in Discord's own format."
        )
    if rest:
        return None, SHAPE
    if not match["id"].isascii() or not match["id"].isdigit():
        return None, "A webhook id (the number after /webhooks/) is digits only."
    if not TOKEN_RE.fullmatch(match["token"]):
        return None, "The webhook token (after the id) has characters a Discord token never has."
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [name for name, _ in query]
    if any(name != "thread_id" for name in names) or len(names) > 1:
        return None, "A Discord webhook URL takes nothing after ? but thread_id=<thread id>."
    thread_id = query[0][1] if query else ""
    if query and not (thread_id.isascii() and thread_id.isdigit()):
        return None, "thread_id (after ?) is the thread's id: digits only."
    base = f"https://{host}/api/webhooks/{match['id']}/{match['token']}"
    return Webhook(base, match["token"], thread_id), ""


# The message.


def escape(value: str) -> str:
    """Markdown shown as typed: a summary or an error label never formats or links."""
    return MARKDOWN.sub(lambda match: "\\" + match[0], value)


def description(notice: Notice, title_cut: bool) -> str:
    parts = []
    if title_cut:  # the title could not hold the whole summary: here it is
        parts.append(escape(notice.summary))
    if notice.top_errors:
        lines = [f"• {escape(label)}: {count}" for label, count in notice.top_errors[:MAX_ERRORS]]
        parts.append("**Top errors**\n" + "\n".join(lines))
    if notice.sample_request_ids:
        ids = ", ".join(escape(rid) for rid in notice.sample_request_ids[:MAX_REQUEST_IDS])
        parts.append("**Sample request ids**\n" + ids)
    links = [link for link in text.links(notice) if len(link.url) <= URL_LIMIT]
    if links:
        parts.append(" · ".join(f"[{link.text}]({link_target(link.url)})" for link in links))
    return "\n\n".join(parts)


def link_target(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def embed(notice: Notice) -> dict[str, Any]:
    whole_title = text.title(notice).strip()
    title = truncate(whole_title, TITLE_LIMIT)
    built: dict[str, Any] = {"title": title, "color": text.colour(notice)}
    if notice.incident_url and len(notice.incident_url) <= URL_LIMIT:
        built["url"] = notice.incident_url
    said = truncate(description(notice, title != whole_title).strip(), DESCRIPTION_LIMIT)
    if said:
        built["description"] = said
    built["fields"] = [
        {
            "name": truncate(label, FIELD_NAME_LIMIT),
            "value": truncate(escape(value).strip() or "—", FIELD_VALUE_LIMIT),
            "inline": len(value) <= 32,
        }
        for label, value in text.facts(notice)[:FIELDS_LIMIT]
    ]
    footer = "test message" if notice.test else f"incident {notice.incident_id}"
    built["footer"] = {"text": truncate(f"Alerting Console · {footer}", FOOTER_LIMIT)}
    moment = notice.resolved_at if notice.resolved_at is not None else notice.detected_at
    built["timestamp"] = moment.isoformat()
    return fit(built)


def counted(built: dict[str, Any]) -> int:
    """The characters Discord counts against TOTAL_LIMIT."""
    fields = built.get("fields", [])
    return (
        len(built.get("title", ""))
        + len(built.get("description", ""))
        + sum(len(f["name"]) + len(f["value"]) for f in fields)
        + len(built.get("footer", {}).get("text", ""))
    )


def fit(built: dict[str, Any]) -> dict[str, Any]:
    """Within TOTAL_LIMIT: the description (errors, ids, links) gives way first, then the
    longest facts down to VALUE_FLOOR, then the last facts go."""
    over = counted(built) - TOTAL_LIMIT
    if over > 0 and "description" in built:
        kept = len(built["description"]) - over
        if kept >= VALUE_FLOOR:
            built["description"] = truncate(built["description"], kept)
        else:
            del built["description"]
    fields = built["fields"]
    while (over := counted(built) - TOTAL_LIMIT) > 0:
        longest = max(fields, key=lambda f: len(f["value"]), default=None)
        if longest is None or len(longest["value"]) <= VALUE_FLOOR:
            break
        longest["value"] = truncate(
            longest["value"], max(VALUE_FLOOR, len(longest["value"]) - over)
        )
    while counted(built) > TOTAL_LIMIT and fields:
        fields.pop()
    return built


def fallback(notice: Notice) -> str:
    """The line above the embed, which is what a phone's notification shows."""
    return truncate(text.title(notice).strip(), FALLBACK_LIMIT)


def message(notice: Notice) -> dict[str, Any]:
    """The whole message: a trigger, a renotify, a resolve with no first message to edit."""
    return {"content": fallback(notice), "embeds": [embed(notice)], "allowed_mentions": NO_MENTIONS}


def resolved_line(notice: Notice) -> dict[str, Any]:
    """The short message posted beside the edit, so that phones hear of the resolve (or of
    the new severity)."""
    return {"content": fallback(notice), "allowed_mentions": NO_MENTIONS}


# Sending.


@dataclass(frozen=True)
class Answer:
    result: Result
    message_id: str = ""
    code: int | None = None  # Discord's error code (10008: Unknown Message)


def call(method: str, url: str, body: dict[str, Any], secrets: tuple[str, ...]) -> Answer:
    started = time.monotonic()
    try:
        reply = http.request(method, url, json=body, untrusted=True)
    except httpx.HTTPError as exc:
        return Answer(no_answer(exc, started, *secrets))
    answer = parsed(reply.content)
    status = reply.status_code
    verdict = classify_http(status)
    code = answer.get("code") if isinstance(answer.get("code"), int) else None
    error = ""
    if verdict != Verdict.DELIVERED:
        said = answer.get("message")
        error = scrub(f"Discord: {said}" if isinstance(said, str) else "", *secrets)[:300]
    # Discord says how long to wait with a 429 only, in its body (or Retry-After).
    wait = wait_asked(answer, reply.headers) if status == 429 else None
    result = replace(
        answered(reply, started, *secrets, verdict=verdict, error=error), retry_after=wait
    )
    message_id = answer.get("id")
    if not (isinstance(message_id, str) and message_id.isascii() and message_id.isdigit()):
        message_id = ""
    return Answer(result, message_id, code)


def parsed(content: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(content)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def wait_asked(answer: dict[str, Any], headers: httpx.Headers) -> float | None:
    """The body's retry_after (float seconds, the more precise), else Retry-After."""
    said = answer.get("retry_after")
    if isinstance(said, int | float) and not isinstance(said, bool):
        return waitable(float(said))
    header = headers.get("Retry-After") or ""
    try:
        return waitable(float(header))
    except ValueError:
        return retry_after_header(header)


def waitable(seconds: float) -> float | None:
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class Discord:
    name: ClassVar[str] = "discord"
    label: ClassVar[str] = "Discord"
    credential_label: ClassVar[str] = "Webhook URL"
    credential_help: ClassVar[str] = (
        "In Discord: the channel's Edit Channel → Integrations → Webhooks → New Webhook → "
        "Copy Webhook URL (https://discord.com/api/webhooks/<id>/<token>). To post in a "
        "thread, add ?thread_id=<thread id>."
    )
    fields: ClassVar[tuple[Field, ...]] = ()

    def validate(self, secret: str, settings: Mapping[str, Any]) -> dict[str, str]:
        _, problem = parse(secret)
        return {"secret": problem} if problem else {}

    def render(self, notice: Notice, target: Target) -> Any:
        return message(notice)

    def deliver(self, notice: Notice, target: Target, reference: str) -> Result:
        hook, problem = parse(target.secret)
        if hook is None:
            return Result(Verdict.PERMANENT, None, "", 0, error=problem)
        secrets = (target.secret, hook.token)
        first = reference if reference.isascii() and reference.isdigit() else ""
        if notice.event in (Event.RESOLVE, Event.UPDATE) and first:
            return self.edit_and_tell(notice, hook, first, secrets)
        posted = call("POST", hook.execute_url(), message(notice), secrets)
        if notice.event == Event.TRIGGER:  # a new first message: later ones refer to it
            return replace(posted.result, reference=posted.message_id or first)
        return replace(posted.result, reference=first or posted.message_id)

    def edit_and_tell(
        self, notice: Notice, hook: Webhook, first: str, secrets: tuple[str, ...]
    ) -> Result:
        """Edit the first message to show it resolved (or at its new severity), then post a
        line that notifies. If the first message cannot be edited (gone: 404 Unknown Message;
        or refused), the message is posted whole instead; only a webhook that is gone, or an
        edit to try later, stops it."""
        started = time.monotonic()
        edit = call("PATCH", hook.message_url(first), message(notice), secrets)
        status = edit.result.http_status
        webhook_gone = status in (401, 403) or (status == 404 and edit.code != UNKNOWN_MESSAGE)
        if edit.result.accepted:
            body = resolved_line(notice)
        elif edit.result.permanent and not webhook_gone:
            body = message(notice)
        else:
            return replace(edit.result, reference=first)
        posted = call("POST", hook.execute_url(), body, secrets)
        return replace(posted.result, duration_ms=ms_since(started), reference=first)
