"""What every channel kind shares: the notice it renders, the channel it sends to, and the
verdict it returns.

A kind is one module of this package with one class that has:
- ``name`` (the registry key, stored in ``Channel.kind``), ``label`` (what people read), and
  ``credential_label`` / ``credential_help`` (what its secret is: an integration key, a
  webhook URL, a bot token; empty when it has none);
- ``fields``: its non-secret settings, as ``Field`` rows (the admin form and ``apply_config``
  are built from them);
- ``validate(secret, settings)``: field name → reason, for every bad value (empty: valid);
- ``render(notice, target)``: the message it would send, with no secret in it (shown by the
  test message's page and the inbox);
- ``deliver(notice, target, reference)``: build the message, send it, and classify the answer
  as delivered, retry later (when the service said), or permanent failure. ``reference`` is
  what this channel's earlier delivery of the same incident left (a Slack ``ts``, a Discord
  message id, an e-mail Message-ID), empty for the first.

Kinds know nothing of models or the database: they take plain values and return a ``Result``
(the inbox, whose "service" is the console itself, returns the message to keep in it).
The worker (``policies.sending``) decides everything around them: claims, order, retries,
give-up time, disabling a channel that keeps refusing. The test event goes through ``deliver``
too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol

import httpx
from django.utils import timezone

from policies import http
from policies.masking import mask_secret


class Event(StrEnum):
    """The transitions a channel is told of."""

    TRIGGER = "trigger"  # the incident opened (or was unmuted): first message
    RENOTIFY = "renotify"  # still open after renotify_seconds: a reminder
    UPDATE = "update"  # its severity changed: critical level reached, or left
    RESOLVE = "resolve"  # it is over


@dataclass(frozen=True)
class Notice:
    """One transition of one incident: everything a message may say, the same for every kind.
    Never prompts, users' e-mail addresses or keys."""

    event: Event
    incident_id: int
    dedup_key: str
    summary: str  # one line: policy, count against threshold, window, group
    severity: str  # PagerDuty's: critical, error, warning, info
    policy: str
    rule: str  # the policy's rule in words: "5 or more failed requests in 60 s"
    policy_kind: str
    group: str  # the team, key alias or model; "" when the policy counts everything together
    group_label: str  # "team search", "key alias prod-app", "model gpt-4o", "everything"
    count: int  # at this transition
    threshold: int
    peak: int
    window_seconds: int
    started_at: datetime
    detected_at: datetime
    noticed_at: datetime
    resolved_at: datetime | None = None
    team: str = ""  # the owning team's name, if it has one
    model: str = ""
    top_errors: tuple[tuple[str, int], ...] = ()  # ("RateLimitError 429", 12), ...
    sample_request_ids: tuple[str, ...] = ()
    runbook_url: str = ""
    incident_url: str = ""  # the incident in the console ("" without CONSOLE_BASE_URL)
    silence_url: str = ""  # the silence form, filled in for this incident
    details: Mapping[str, Any] = field(default_factory=dict)  # PagerDuty's custom_details
    test: bool = False  # a test message sent from the admin, not an incident
    delivery_id: int = 0  # the outbox row it is sent for: the same through every retry

    @property
    def resolved(self) -> bool:
        return self.event == Event.RESOLVE


@dataclass(frozen=True)
class Target:
    """A channel as a kind sees it."""

    id: int
    name: str
    secret: str  # the integration key, webhook URL or bot token; "" for kinds with none
    settings: Mapping[str, Any] = field(default_factory=dict)  # the kind's Fields, by name
    signing_secret: str = ""  # the signed webhook's key (whsec_...); "" for other kinds


@dataclass(frozen=True)
class Field:
    """One non-secret setting of a kind, as the admin form and apply_config show it."""

    name: str
    label: str
    help: str
    required: bool = False
    multiline: bool = False
    secret: bool = False  # written, never shown back (e.g. a webhook's Authorization header)


@dataclass(frozen=True)
class Kept:
    """A message the console keeps instead of sending (the inbox): the worker stores it."""

    event: str
    incident_id: int  # 0 for a test message
    title: str
    text: str
    renderings: Mapping[str, Any]


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # not taken this time: try again later
    PERMANENT = "permanent"  # refused for good: sending it again cannot help


@dataclass(frozen=True)
class Result:
    """What came of one delivery attempt."""

    verdict: Verdict
    http_status: int | None  # None: no answer (an error before or instead of one)
    excerpt: str  # the start of the answer, no secret in it
    duration_ms: int
    error: str = ""  # why there was no answer, or what the answer meant
    retry_after: float | None = None  # seconds the service asked us to wait
    reference: str = ""  # kept for this incident's later deliveries on this channel
    kept: Kept | None = None  # a message the console keeps itself (the inbox)

    @property
    def accepted(self) -> bool:
        return self.verdict == Verdict.DELIVERED

    @property
    def permanent(self) -> bool:
        return self.verdict == Verdict.PERMANENT

    def describe(self) -> str:
        if self.http_status is None:
            return self.error or "no answer"
        said = f"HTTP {self.http_status} {self.excerpt[:200]}".strip()
        return f"{said}: {self.error}" if self.error else said


class ChannelKind(Protocol):
    name: ClassVar[str]
    label: ClassVar[str]
    credential_label: ClassVar[str]
    credential_help: ClassVar[str]
    fields: ClassVar[tuple[Field, ...]]

    def validate(self, secret: str, settings: Mapping[str, Any]) -> dict[str, str]: ...

    def deliver(self, notice: Notice, target: Target, reference: str) -> Result: ...

    def render(self, notice: Notice, target: Target) -> Any:
        """The message ``deliver`` would send for this notice (its first call's body), as
        JSON-able data or text, with no secret in it: what the test message's page and the
        inbox show."""
        ...


# Helpers for kinds that POST over HTTP.


def classify_http(status: int) -> Verdict:
    """The usual meaning of a status: 2xx taken; 408, 429 and 5xx not now; other 4xx refused
    for good. 3xx is a failure (redirects are never followed) that may be fixed later."""
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if 400 <= status < 500 and status not in (408, 425, 429):
        return Verdict.PERMANENT
    return Verdict.RETRY


def no_answer(exc: httpx.HTTPError, started: float, *secrets: str) -> Result:
    """A call that got no answer: a timeout, a refused connection, an address refused by the
    egress guard. Retried, unless the guard refused it (an address that will not change)."""
    message = scrub(f"{type(exc).__name__}: {exc}", *secrets)[:500]
    verdict = Verdict.PERMANENT if isinstance(exc, http.AddressRefused) else Verdict.RETRY
    return Result(verdict, None, "", ms_since(started), error=message)


def answered(
    reply: http.Reply,
    started: float,
    *secrets: str,
    verdict: Verdict | None = None,
    error: str = "",
    wait: float | None = None,
) -> Result:
    """What an answer means, as a Result: by default its status's usual meaning
    (``classify_http``) and the wait its Retry-After asks. The excerpt and the error are
    scrubbed of the secrets before they are cut, so that no part of one is left at the cut."""
    return Result(
        verdict or classify_http(reply.status_code),
        reply.status_code,
        scrub(reply.text, *secrets)[:500],
        ms_since(started),
        error=scrub(error, *secrets),
        retry_after=wait if wait is not None else retry_after(reply.headers.get("Retry-After")),
    )


def ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def scrub(text: str, *secrets: str) -> str:
    """The text with every secret in it masked: httpx's errors quote the URL, which for a
    webhook is the secret."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, mask_secret(secret))
    return text


def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """At most `limit` characters, marked where cut: never refused for length."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ellipsis))] + ellipsis


def retry_after(value: str | None) -> float | None:
    """Retry-After is seconds or an HTTP date (RFC 9110, 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 6:  # at most 11 days
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - timezone.now()).total_seconds())
