"""Microsoft Teams, through a Workflows (Power Automate) webhook: one Adaptive Card per
transition. A Workflows webhook answers no message id and cannot edit or thread a card, so a
renotify is a new card, and so is the resolve (green, "RESOLVED").

Contract (../shared/reference/channels.md, section 2):
- Office 365 connectors (``*.webhook.office.com``, ``outlook.office.com/webhook``) are retired
  (learn.microsoft.com "Retirement of Office 365 connectors within Microsoft Teams"; the
  devblogs update of 2026-04-14 disables the last ones in May 2026): validate() refuses them and
  says to create a Workflows webhook, whose template "Send webhook alerts to a channel" or
  trigger "When a Teams webhook request is received" takes Adaptive Cards
  (MicrosoftDocs/msteams-docs ``add-incoming-webhook.md``). Its URLs are on
  ``prod-NN.<region>.logic.azure.com`` or ``*.environment.api.powerplatform.com``, and more
  hosts may come, so any other https URL is accepted. The ``sig=`` parameter is the secret.
- Body: ``{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": <card>}]}``; the
  flow loops over ``attachments`` and fails without it (bgptools/issues#203). Teams renders
  cards up to version 1.5 (learn.microsoft.com, Copilot Studio "Adaptive Cards overview"): we
  send 1.4. ``msteams.width = "Full"`` (msteams-docs ``cards-format.md``, "Full width Adaptive
  Card") gives the facts room.
- Size: a message over 28 KB is refused (msteams-docs ``add-incoming-webhook.md``); cards near
  the limit failed in practice, so we keep the body within 26 KB (as clients do) by cutting
  the text, never by failing.
- Answer: 202 Accepted with an empty body (Skitionek/notify-microsoft-teams#98); the flow runs
  later, so a card it cannot post shows only in its run history. 429 (more than 4 requests a
  second) and 5xx: retry, honouring Retry-After; any other 4xx: refused for good.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx

from policies import http
from policies.channels import text
from policies.channels.base import (
    Field,
    Notice,
    Result,
    Target,
    Verdict,
    answered,
    classify_http,
    no_answer,
    truncate,
)

SIZE_LIMIT = 28 * 1024  # Teams refuses a message over this (bytes)
BUDGET = 26 * 1024  # what we send at most, with room to spare
CARD_VERSION = "1.4"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
# Each text of the card at most this long, tried in turn until the whole message fits.
TEXT_LIMITS = (4000, 1000, 300, 100)
MAX_ERRORS = 10
MAX_REQUEST_IDS = 10

RETIRED = (
    "This is an Office 365 connector webhook, and Microsoft has retired those connectors: "
    "they no longer post. In Teams, create a Workflows webhook instead (the “Send webhook "
    "alerts to a channel” template, or a flow that starts with “When a Teams webhook request "
    "is received”) and paste its URL here."
)

# Severity as the colour of the title (Adaptive Cards' TextBlock colours).
TONES = {"critical": "attention", "error": "attention", "warning": "warning", "info": "accent"}

# What a refusal means, when the status says more than the (usually empty) body.
MEANINGS = {
    400: "the workflow refused the request",
    401: "the URL's signature (sig=) is not valid: copy the workflow's URL again",
    403: "the URL's signature (sig=) is not valid: copy the workflow's URL again",
    404: "no such workflow: it was deleted, or the URL is incomplete",
    413: "the message is over Teams' size limit",
}


def url_problem(url: str) -> str:
    """Why this is not a Workflows webhook URL we can post to ("" if it is one)."""
    if not url:
        return "Paste the URL of the workflow's “When a Teams webhook request is received” step."
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "The URL has spaces or line breaks in it; paste it again, in one piece."
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        has_user = parts.username is not None or parts.password is not None
    except ValueError:
        return "This is not a URL."
    if parts.scheme != "https":
        return "A Workflows webhook URL starts with https://."
    if not host:
        return "The URL has no host name."
    if has_user:
        return "A Workflows webhook URL has no user name or password in it."
    if host == "webhook.office.com" or host.endswith(".webhook.office.com"):
        return RETIRED
    if host in ("outlook.office.com", "outlook.office365.com") and parts.path.startswith(
        "/webhook"
    ):
        return RETIRED
    return ""


def signatures(url: str) -> list[str]:
    """The secret parts of the URL besides the URL itself: its sig= values."""
    try:
        return [value for value in parse_qs(urlsplit(url).query).get("sig", []) if value]
    except ValueError:
        return []


def tone(notice: Notice) -> str:
    return "good" if notice.resolved else TONES.get(notice.severity, "attention")


def card(notice: Notice, limit: int, with_links: bool = True) -> dict[str, Any]:
    """The Adaptive Card, each of its texts at most `limit` characters."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": truncate(text.title(notice), limit),
            "weight": "Bolder",
            "size": "Medium",
            "color": tone(notice),
            "wrap": True,
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": label, "value": truncate(value, limit)}
                for label, value in text.facts(notice)
            ],
        },
    ]
    if notice.top_errors:
        body += [
            heading("Top errors"),
            {
                "type": "FactSet",
                "facts": [
                    {"title": truncate(label, limit), "value": str(count)}
                    for label, count in notice.top_errors[:MAX_ERRORS]
                ],
            },
        ]
    if notice.sample_request_ids:
        ids = ", ".join(notice.sample_request_ids[:MAX_REQUEST_IDS])
        body += [
            heading("Sample request ids"),
            {
                "type": "TextBlock",
                "text": truncate(ids, limit),
                "fontType": "Monospace",
                "isSubtle": True,
                "wrap": True,
            },
        ]
    content: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    links = text.links(notice) if with_links else []
    if links:
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": link.text, "url": link.url} for link in links
        ]
    return content


def heading(words: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": words, "weight": "Bolder", "spacing": "Medium"}


def envelope(content: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_TYPE, "contentUrl": None, "content": content}],
    }


def encode(message: dict[str, Any]) -> bytes:
    """The exact bytes sent, so that the size measured is the size Teams sees."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def message(notice: Notice) -> bytes:
    """The message, within BUDGET: the texts are cut shorter until it fits. At the shortest
    (a hundred characters a text, ten errors) only over-long links can still be too much; the
    card then goes without them, as the links are also in the console."""
    for limit in TEXT_LIMITS:
        body = encode(envelope(card(notice, limit)))
        if len(body) <= BUDGET:
            return body
    return encode(envelope(card(notice, TEXT_LIMITS[-1], with_links=False)))


def post(url: str, body: bytes) -> Result:
    started = time.monotonic()
    secrets = (url, *signatures(url))
    try:
        reply = http.request(
            "POST",
            url,
            content=body,
            headers={"Content-Type": "application/json"},
            untrusted=True,
        )
    except httpx.HTTPError as exc:
        return no_answer(exc, started, *secrets)
    status = reply.status_code
    error = "" if classify_http(status) == Verdict.DELIVERED else MEANINGS.get(status, "")
    return answered(reply, started, *secrets, error=error)


class Teams:
    name: ClassVar[str] = "teams"
    label: ClassVar[str] = "Microsoft Teams"
    credential_label: ClassVar[str] = "Workflows webhook URL"
    credential_help: ClassVar[str] = (
        "In the Teams channel, open Workflows and create one from the “Send webhook alerts to "
        "a channel” template (or a flow that starts with “When a Teams webhook request is "
        "received”), then paste the URL it shows. Office 365 connector URLs "
        "(…webhook.office.com) are retired and refused."
    )
    fields: ClassVar[tuple[Field, ...]] = ()

    def validate(self, secret: str, settings: Mapping[str, Any]) -> dict[str, str]:
        problem = url_problem(secret)
        return {"secret": problem} if problem else {}

    def render(self, notice: Notice, target: Target) -> Any:
        return json.loads(message(notice))

    def deliver(self, notice: Notice, target: Target, reference: str) -> Result:
        problem = url_problem(target.secret)
        if problem:
            return Result(Verdict.PERMANENT, None, "", 0, error=problem)
        return post(target.secret, message(notice))
