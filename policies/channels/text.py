"""The words of a message, shared by every kind so that a page reads the same in Slack, Teams,
Discord and e-mail: a title, the facts as label/value pairs, the top errors, sample request
ids and the links. Kinds lay these out in their own format and within their own limits."""

from __future__ import annotations

from dataclasses import dataclass

from alerting_console.moments import shown
from policies.channels.base import Event, Notice

# Severity as colour (RGB) and emoji, for kinds that show one.
COLOURS = {"critical": 0xD32F2F, "error": 0xE65100, "warning": 0xF9A825, "info": 0x1976D2}
RESOLVED_COLOUR = 0x2E7D32
EMOJI = {"critical": "🔴", "error": "🟠", "warning": "🟡", "info": "🔵"}
RESOLVED_EMOJI = "✅"


@dataclass(frozen=True)
class Link:
    text: str
    url: str


def colour(notice: Notice) -> int:
    return RESOLVED_COLOUR if notice.resolved else COLOURS.get(notice.severity, COLOURS["error"])


def emoji(notice: Notice) -> str:
    return RESOLVED_EMOJI if notice.resolved else EMOJI.get(notice.severity, EMOJI["error"])


STATUS_WORDS = {
    Event.TRIGGER: "FIRING",
    Event.RENOTIFY: "STILL FIRING",
    Event.UPDATE: "FIRING",  # with its new severity beside it
    Event.RESOLVE: "RESOLVED",
}


def status_word(notice: Notice) -> str:
    if notice.test:
        return "TEST"
    return STATUS_WORDS[notice.event]


def title(notice: Notice) -> str:
    """``🔴 FIRING [critical] Provider errors: 12 failed requests in 60 s for team search``"""
    return f"{emoji(notice)} {status_word(notice)} [{notice.severity}] {notice.summary}"


def facts(notice: Notice) -> list[tuple[str, str]]:
    rows = [
        ("Policy", notice.policy),
        ("Rule", notice.rule),
        ("Group", notice.group_label),
        ("Count", f"{notice.count} (threshold {notice.threshold}, peak {notice.peak})"),
        ("Window", f"{notice.window_seconds} s"),
        ("Severity", notice.severity),
        ("Since", shown(notice.started_at)),
    ]
    if notice.resolved_at is not None:
        rows.append(("Resolved", shown(notice.resolved_at)))
    if notice.team:
        rows.append(("Team", notice.team))
    if notice.model:
        rows.append(("Model", notice.model))
    return rows


def error_lines(notice: Notice) -> list[str]:
    return [f"{label}: {count}" for label, count in notice.top_errors]


def links(notice: Notice) -> list[Link]:
    found = [
        Link("Open in the console", notice.incident_url),
        Link("Runbook", notice.runbook_url),
        Link("Silence", notice.silence_url),
    ]
    return [link for link in found if link.url]


def plain(notice: Notice) -> str:
    """The whole message as plain text: the e-mail body, and the fallback of rich kinds."""
    lines = [title(notice), ""]
    lines += [f"{label}: {value}" for label, value in facts(notice)]
    if notice.top_errors:
        lines += ["", "Top errors:", *(f"  {line}" for line in error_lines(notice))]
    if notice.sample_request_ids:
        lines += ["", "Sample request ids: " + ", ".join(notice.sample_request_ids)]
    if links(notice):
        lines += ["", *(f"{link.text}: {link.url}" for link in links(notice))]
    return "\n".join(lines)
