"""E-mail: a message to a list of addresses through Django's mail framework (the server set by
EMAIL_URL, the sender DEFAULT_FROM_EMAIL), plain text plus an HTML alternative; renotifies and
the resolve are replies in the trigger's thread.

Threading (RFC 5322, section 3.6.4; shared/reference/channels.md, section 6): the trigger gets
a Message-ID made with ``make_msgid`` under the console's host name (CONSOLE_BASE_URL's, else
``alerting-console.local``, never the worker's own name), returned as ``Result.reference``.
Each later message of the incident has its own Message-ID, ``In-Reply-To`` and ``References``
set to the trigger's, and the same subject after ``Re: ``. So the subject holds only what
stays the same for the incident (``[critical] Upstream failures: 12 failed requests in 60 s``);
whether it fires or is resolved is the body's first line, which mail apps show beside the
subject. A renotify or resolve with no trigger to answer (the trigger failed) starts a thread.
Messages carry ``Auto-Submitted: auto-generated`` (RFC 3834), so out-of-office replies stay
away from the sender.

How an SMTP failure is taken:
- permanent (sending it again cannot help): every recipient refused with a 5xx
  (``SMTPRecipientsRefused``), or a 5xx answer to the message itself (``SMTPDataError``:
  too big, refused as spam, policy);
- retry: 4xx answers anywhere (greylisting, mailbox busy, "451 local error"), every recipient
  refused with 4xx only, connection errors, timeouts (EMAIL_TIMEOUT, which settings set to
  HTTP_TIMEOUT_SECONDS so a hanging server cannot hold a worker), a server that hangs up;
- also retried: 5xx answers to the connection, greeting, login or sender
  (``SMTPConnectError``, ``SMTPHeloError``, ``SMTPAuthenticationError``,
  ``SMTPSenderRefused``) and a server without STARTTLS: they say EMAIL_URL or
  DEFAULT_FROM_EMAIL is wrong for every e-mail channel, not that this channel's addresses
  are; disabling the channels one by one would not fix it, and each would need re-enabling.
Some recipients refused and others taken counts as delivered (Django's backend reports no
partial refusal). Errors never show the mail server's password.
"""

from __future__ import annotations

import re
import smtplib
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, make_msgid
from django.core.validators import validate_email
from django.utils.html import escape, format_html, format_html_join

from policies.channels import text
from policies.channels.base import (
    Event,
    Field,
    Notice,
    Result,
    Target,
    Verdict,
    ms_since,
    scrub,
    truncate,
)

MAX_RECIPIENTS = 50
SUBJECT_SUMMARY_LIMIT = 200
FALLBACK_DOMAIN = "alerting-console.local"
SEPARATORS = re.compile(r"[,;\s]+")
# Failures of our own mail server's configuration, not of the channel's addresses.
SERVER_SIDE = (
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPSenderRefused,
)


def parse_addresses(value: Any) -> tuple[list[str], list[str]]:
    """The addresses (comma, semicolon, space or newline separated; or a list), each once,
    and those that are not e-mail addresses."""
    if isinstance(value, str):
        items = SEPARATORS.split(value)
    elif isinstance(value, list | tuple):
        items = [part for item in value for part in SEPARATORS.split(str(item))]
    else:
        items = []
    good: list[str] = []
    bad: list[str] = []
    for item in items:
        if not item or item.lower() in (a.lower() for a in good):
            continue
        try:
            validate_email(item)
        except ValidationError:
            bad.append(item)
        else:
            good.append(item)
    return good, bad


def subject(notice: Notice) -> str:
    """The thread's subject: the same for every message of the incident."""
    prefix = "test" if notice.test else notice.severity
    summary = " ".join(notice.summary.split())  # a header is one line
    return f"[{prefix}] {truncate(summary, SUBJECT_SUMMARY_LIMIT)}"


def message_domain() -> str:
    return urlsplit(settings.CONSOLE_BASE_URL).hostname or FALLBACK_DOMAIN


def html(notice: Notice) -> str:
    """The HTML alternative: the same words as the plain text, every value escaped."""
    rows = format_html_join(
        "",
        '<tr><th align="left" style="padding-right:12px">{}</th><td>{}</td></tr>',
        text.facts(notice),
    )
    parts = [
        format_html(
            '<h2 style="color:{};font-size:18px">{}</h2><table>{}</table>',
            f"#{text.colour(notice):06X}",
            text.title(notice),
            rows,
        )
    ]
    if notice.top_errors:
        errors = format_html_join("", "<li>{}</li>", ((line,) for line in text.error_lines(notice)))
        parts.append(format_html("<h3>Top errors</h3><ul>{}</ul>", errors))
    if notice.sample_request_ids:
        ids = format_html_join(", ", "<code>{}</code>", ((i,) for i in notice.sample_request_ids))
        parts.append(format_html("<p>Sample request ids: {}</p>", ids))
    links = [
        format_html('<a href="{}">{}</a>', link.url, link.text)
        if urlsplit(link.url).scheme in ("http", "https")
        else escape(f"{link.text}: {link.url}")  # never a javascript: link
        for link in text.links(notice)
    ]
    if links:
        parts.append(format_html("<p>{}</p>", format_html_join(" · ", "{}", ((a,) for a in links))))
    body = "".join(parts)
    return f'<!doctype html><html><body style="font-family:sans-serif">{body}</body></html>'


def build(
    notice: Notice, recipients: list[str], reference: str
) -> tuple[EmailMultiAlternatives, str]:
    """The message, and the reference to keep: its own Message-ID for a thread's first."""
    own_id = make_msgid(domain=message_domain())
    headers = {"Message-ID": own_id, "Auto-Submitted": "auto-generated"}
    title = subject(notice)
    if reference and notice.event != Event.TRIGGER:
        headers |= {"In-Reply-To": reference, "References": reference}
        title = f"Re: {title}"
    else:
        reference = own_id
    message = EmailMultiAlternatives(
        title, text.plain(notice), settings.DEFAULT_FROM_EMAIL, recipients, headers=headers
    )
    message.attach_alternative(html(notice), "text/html")
    return message, reference


def verdict_of(exc: Exception) -> tuple[Verdict, str]:
    """How an error of the mail framework is taken (see the module doc), and in words."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        said = ", ".join(
            f"{address} ({code} {_decode(answer)})"
            for address, (code, answer) in exc.recipients.items()
        )
        verdict = Verdict.PERMANENT if any(code >= 500 for code in codes) else Verdict.RETRY
        return verdict, f"every recipient refused: {said}"
    if isinstance(exc, smtplib.SMTPResponseException):
        said = f"SMTP {exc.smtp_code} {_decode(exc.smtp_error)}"
        if isinstance(exc, SERVER_SIDE):
            return Verdict.RETRY, f"{said} (check EMAIL_URL and DEFAULT_FROM_EMAIL)"
        verdict = Verdict.PERMANENT if exc.smtp_code >= 500 else Verdict.RETRY
        return verdict, said
    return Verdict.RETRY, f"{type(exc).__name__}: {exc}"


def _decode(answer: bytes | str) -> str:
    return answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)


class Email:
    name: ClassVar[str] = "email"
    label: ClassVar[str] = "E-mail"
    credential_label: ClassVar[str] = ""
    credential_help: ClassVar[str] = ""
    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "to",
            "To",
            f"The addresses to write to, separated by commas or one per line (at most "
            f"{MAX_RECIPIENTS}). Sent from DEFAULT_FROM_EMAIL through the console's mail "
            "server (EMAIL_URL).",
            required=True,
            multiline=True,
        ),
    )

    def validate(self, secret: str, settings: Mapping[str, Any]) -> dict[str, str]:
        good, bad = parse_addresses(settings.get("to"))
        if bad:
            shown = ", ".join(truncate(item, 80) for item in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            plural = "These are not e-mail addresses" if len(bad) > 1 else "Not an e-mail address"
            return {"to": f"{plural}: {shown}{more}."}
        if not good:
            return {"to": "Enter at least one e-mail address."}
        if len(good) > MAX_RECIPIENTS:
            return {"to": f"At most {MAX_RECIPIENTS} addresses; this has {len(good)}."}
        return {}

    def render(self, notice: Notice, target: Target) -> Any:
        return f"Subject: {subject(notice)}\n\n{text.plain(notice)}"

    def deliver(self, notice: Notice, target: Target, reference: str) -> Result:
        started = time.monotonic()
        problems = self.validate("", target.settings)
        if problems:  # validated when saved: the setting changed under us
            return Result(Verdict.PERMANENT, None, "", ms_since(started), error=problems["to"])
        recipients, _ = parse_addresses(target.settings.get("to"))
        message, keep = build(notice, recipients, reference)
        try:
            message.send()
        except (smtplib.SMTPException, OSError) as exc:
            verdict, said = verdict_of(exc)
            error = scrub(said, settings.EMAIL_HOST_PASSWORD)[:500]
            return Result(verdict, None, "", ms_since(started), error=error)
        taken = f"taken by the mail server for {len(recipients)} recipient(s)"
        return Result(Verdict.DELIVERED, None, taken, ms_since(started), reference=keep)
