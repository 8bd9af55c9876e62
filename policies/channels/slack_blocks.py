"""Slack messages for a notice: Block Kit blocks plus the plain ``text`` fallback, always within
Slack's limits, so that no summary or error list, however long, is refused for length.

Layout, made to read on a phone: a header (the title: emoji, status, severity, summary), the
summary again when the header had to cut it, the facts as a two-column section, the top errors
in a code block, the sample request ids, and the links (console, runbook, silence form).

Severity is shown as emoji only, with no colour bar. A colour bar needs the blocks wrapped in a
secondary attachment, which Slack calls legacy ("may change in the future, in ways that reduce
their visibility or utility", api.slack.com/reference/messaging/attachments) and shows as
lower-priority content. A colour shows neither in a push notification nor to a colour-blind
reader. The emoji opens the header and the ``text`` fallback, which is what notifications show.

Links are mrkdwn links in a context block, not buttons: a button click is an interaction that
the app must acknowledge. Ours has no endpoint for that, so Slack would mark each click with a
warning (slackapi/node-slack-sdk#869, slackapi/slack-github-action#513).

Limits (api.slack.com/reference/block-kit/blocks, /reference/surfaces/formatting, see
../shared/reference/channels.md 1c): at most 50 blocks; a header's plain_text 150 characters;
section text 3000; at most 10 fields of 2000 each; at most 10 context elements; top-level
``text`` is cut above 40,000 (Slack advises 4,000). A whole message near 13k characters of block
text was refused with ``msg_blocks_too_long`` (slackapi/bolt-js#2509, no documented limit), so
our budgets below keep a message's blocks under 9,000 characters in all.

mrkdwn text escapes ``&``, ``<`` and ``>`` (Slack's formatting reference): a policy name or a
provider's error text can then neither break a link nor ping ``<!channel>``.
"""

from __future__ import annotations

import re
from typing import Any

from alerting_console.moments import shown
from policies.channels import text
from policies.channels.base import Notice, truncate

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
FIELDS_MAX = 10
BLOCKS_MAX = 50
CONTEXT_ELEMENTS_MAX = 10
FALLBACK_LIMIT = 4000  # Slack's advice for `text`; it cuts above 40,000

# Our budgets, below Slack's limits, so that the whole message stays small (see above).
SUMMARY_BUDGET = 1500
FACT_BUDGET = 250
ERRORS_BUDGET = 2000
ERROR_LINE_BUDGET = 200
IDS_BUDGET = 500
LINKS_BUDGET = 2000

Block = dict[str, Any]


def escape(value: str) -> str:
    """mrkdwn's three control characters, as Slack's formatting reference asks."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


def fit(escaped: str, limit: int) -> str:
    """Escaped mrkdwn cut to `limit` characters, never in the middle of an ``&amp;``."""
    if len(escaped) <= limit:
        return escaped
    return _PARTIAL_ENTITY.sub("", escaped[: limit - 1]) + "…"


def message(notice: Notice) -> dict[str, Any]:
    """The message for this transition: a trigger, a renotify, a resolve, or the original
    message as edited when the incident resolves (the same: the notice says resolved)."""
    return {"text": fallback(notice), "blocks": blocks(notice)}


def fallback(notice: Notice) -> str:
    """What notifications and screen readers get: the whole message as plain text."""
    return truncate(text.plain(notice), FALLBACK_LIMIT)


def blocks(notice: Notice) -> list[Block]:
    title = " ".join(text.title(notice).split())  # a header is one line
    found: list[Block] = [
        {"type": "header", "text": plain_text(truncate(title, HEADER_LIMIT))},
    ]
    if len(title) > HEADER_LIMIT:
        found.append(section(fit(escape(notice.summary), SUMMARY_BUDGET)))
    found.append({"type": "section", "fields": fields(notice)})
    if notice.top_errors:
        found.append(section(errors(notice)))
    if notice.sample_request_ids:
        found.append(context(request_ids(notice)))
    links = link_line(notice)
    if links:
        found.append(context(links))
    return found[:BLOCKS_MAX]


def fields(notice: Notice) -> list[Block]:
    return [
        mrkdwn(fit(f"*{escape(label)}*\n{escape(value)}", FACT_BUDGET))
        for label, value in text.facts(notice)[:FIELDS_MAX]
    ]


def errors(notice: Notice) -> str:
    """The top errors in a code block (no formatting applies inside), as many lines as fit,
    then how many did not."""
    head, tail = "*Top errors*\n```\n", "\n```"
    room = ERRORS_BUDGET - len(head) - len(tail) - len("… and 1000000 more in the console\n")
    all_lines = text.error_lines(notice)
    lines: list[str] = []
    for line in all_lines:
        # A run of backticks would end the code block early.
        line = fit(escape(line.replace("`", "'")), ERROR_LINE_BUDGET)
        if len(line) + 1 > room:
            break
        lines.append(line)
        room -= len(line) + 1
    if len(lines) < len(all_lines):
        lines.append(f"… and {len(all_lines) - len(lines)} more in the console")
    return head + "\n".join(lines) + tail


def request_ids(notice: Notice) -> str:
    shown_ids: list[str] = []
    used = len("*Sample request ids:* ")
    for request_id in notice.sample_request_ids:
        item = f"`{fit(escape(request_id.replace('`', '')), 100)}`"
        if used + len(item) + 2 > IDS_BUDGET:
            break
        shown_ids.append(item)
        used += len(item) + 2
    return "*Sample request ids:* " + ", ".join(shown_ids)


def link_line(notice: Notice) -> str:
    """``<url|Open in the console> · <url|Runbook> · <url|Silence>``, each whole or not at all:
    a cut link would lead nowhere."""
    parts: list[str] = []
    for link in text.links(notice):
        part = f"<{link_url(link.url)}|{escape(link.text)}>"
        if len(" · ".join([*parts, part])) <= LINKS_BUDGET:
            parts.append(part)
    return " · ".join(parts)


def link_url(url: str) -> str:
    """A URL inside ``<…|…>``: entities escaped, and ``|`` (the separator) percent-encoded."""
    return escape(url).replace("|", "%7C")


def resolved_reply(notice: Notice) -> dict[str, Any]:
    """The thread reply that says the incident is over (bot mode): short, the facts are in the
    edited message just above."""
    when = shown(notice.resolved_at) if notice.resolved_at else "now"
    words = (
        f"{text.RESOLVED_EMOJI} Resolved at {when}: peak {notice.peak} "
        f"(threshold {notice.threshold}). {notice.summary}"
    )
    found = [section(fit(escape(words), SECTION_LIMIT))]
    links = link_line(notice)
    if links:
        found.append(context(links))
    return {"text": truncate(words, FALLBACK_LIMIT), "blocks": found}


def severity_reply(notice: Notice) -> dict[str, Any]:
    """The thread reply that says the incident's severity changed (bot mode); the edited
    message above shows it too."""
    words = f"{text.emoji(notice)} Now {notice.severity}: {notice.summary}"
    return {
        "text": truncate(words, FALLBACK_LIMIT),
        "blocks": [section(fit(escape(words), SECTION_LIMIT))],
    }


def plain_text(value: str) -> Block:
    return {"type": "plain_text", "text": value, "emoji": True}


def mrkdwn(value: str) -> Block:
    return {"type": "mrkdwn", "text": value}


def section(value: str) -> Block:
    return {"type": "section", "text": mrkdwn(value)}


def context(value: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(fit(value, SECTION_LIMIT))]}
