"""Generic webhook: a documented, versioned JSON body POSTed to the team's own URL, signed per
the Standard Webhooks specification so that the receiver can tell it came from us.

Contract (Standard Webhooks, github.com/standard-webhooks/standard-webhooks
``spec/standard-webhooks.md``; shared/reference/channels.md, section 4):

- Headers ``webhook-id`` (the message's id, the receiver's idempotency key),
  ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: ``v1,`` + base64 of
  HMAC-SHA256 over ``{id}.{timestamp}.{body}`` (the body exactly as sent), keyed with the
  base64-decoded part of the channel's ``whsec_`` secret. The spec's libraries verify it
  (Python: ``standardwebhooks.Webhook(secret).verify(body, headers)``), and refuse a
  timestamp more than 5 minutes away: each attempt is signed anew.
- Answers: 2xx delivered. 410 Gone: the endpoint is gone for good (permanent: the channel is
  disabled). 429, 502, 503, 504 and other 5xx: retry, honouring Retry-After. 3xx: a failure
  (redirects are never followed, since each hop would need the egress check again), retried
  in case the owner fixes the URL. Other 4xx: permanent (408 and 425, which mean "try again",
  are retried as for every kind: ``base.classify_http``).
- Keep payloads small (under 20 KB): long texts are cut, marked with "…", and the lists
  shortened, until the body fits; it is never refused for length.

The URL is the credential: people enter it, so it is called through the egress guard
(``untrusted=True``, policies/egress.py), and it, the signing secret and the extra headers'
values appear in no excerpt or error.

``webhook-id`` is derived, not random: ``msg_`` + a hash of the incident's dedup_key, the
event type and the outbox row it is sent for. A retry of the same delivery therefore carries
the same id (even if the count it reports has moved meanwhile), and a receiver that
deduplicates on it (as the spec advises) acts once; each transition of an incident gets its
own. A test message gets a new id each time.

The body, version 1 (fields are added within a version, never renamed or removed; a change
of meaning is version 2)::

    {
      "version": 1,
      "type": "incident.triggered",  # or incident.renotified, incident.resolved, test
      "incident": {
        "id": 42,
        "dedup_key": "alerting-console/7/all/3f2a9c1d0e4b",
        "status": "open",                    # or "resolved"
        "severity": "critical",              # critical, error, warning, info
        "summary": "Upstream failures: 12 failed requests in 60 s",
        "policy": "Upstream failures",
        "rule": "5 or more failed requests in 60 s",
        "kind": "failures",                  # the policy's kind
        "group": "search",                   # null when the policy counts everything together
        "team": "Search",                    # null when unknown
        "model": "gpt-4o",                   # null when unknown
        "count": 12, "threshold": 5, "peak": 14, "window_seconds": 60,
        "started_at": "2026-11-30T03:00:00+00:00",
        "detected_at": "2026-11-30T03:01:00+00:00",
        "noticed_at": "2026-11-30T03:01:02+00:00",
        "resolved_at": null,                 # set on incident.resolved
        "top_errors": [{"error": "RateLimitError 429", "count": 9}],
        "sample_request_ids": ["chatcmpl-123"]
      },
      "links": {                             # null when not configured
        "incident": "https://console.example.com/admin/policies/incident/42/change/",
        "runbook": "https://wiki.example.com/runbooks/upstream",
        "silence": "https://console.example.com/admin/policies/silence/add/?..."
      },
      "sent_at": "2026-11-30T03:01:03+00:00"
    }

Timestamps are ISO 8601 in UTC. The JSON is sent compact, in UTF-8.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from policies import egress, http
from policies.channels.base import (
    Event,
    Field,
    Notice,
    Result,
    Target,
    Verdict,
    answered,
    ms_since,
    no_answer,
    truncate,
)

VERSION = 1
BODY_LIMIT = 20 * 1024  # bytes; the spec: "under 20 KB"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
TYPES = {
    Event.TRIGGER: "incident.triggered",
    Event.RENOTIFY: "incident.renotified",
    Event.UPDATE: "incident.severity_changed",
    Event.RESOLVE: "incident.resolved",
}

# Ways to fit the body under BODY_LIMIT, tried in order: (text limit, list length, links).
FITS = ((1024, 10, True), (256, 10, True), (64, 5, True), (64, 0, False))
URL_LIMIT = 2048  # a longer link is dropped, not cut: a cut URL leads nowhere

# Extra headers: RFC 9110 token names; values of visible ASCII, spaces and tabs.
HEADER_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
HEADER_VALUE_RE = re.compile(r"[\t\x20-\x7e]*")
# Set by us, or by httpx for the body: a channel may not replace them.
RESERVED_HEADERS = frozenset(
    {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
        "content-length",
        "transfer-encoding",
        "host",
    }
)
MAX_HEADERS = 20
HEADER_VALUE_LIMIT = 2048
# Values this short are scrubbed from excerpts only if they are the URL or signing secret:
# masking "1" or "yes" everywhere would garble the answer and hides nothing.
SCRUB_MIN = 6


def new_signing_secret() -> str:
    """A channel's signing key, as the spec shows them: ``whsec_`` + base64 of 32 random
    bytes. Shown to the owner once, stored with the channel."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signing_key(secret: str) -> bytes:
    """The key bytes of a ``whsec_`` secret; ValueError if it is not one."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise ValueError("the signing secret is not base64 after whsec_") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("the signing secret must be 24 to 64 bytes")
    return key


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def event_type(notice: Notice) -> str:
    return "test" if notice.test else TYPES[notice.event]


def message_id(notice: Notice) -> str:
    """Stable across retries of one delivery, new for each transition (see the module doc):
    made from the outbox row it is sent for, whose count may change between retries."""
    if notice.test:
        return f"msg_{uuid.uuid4().hex}"
    parts = (notice.dedup_key, event_type(notice), str(notice.delivery_id))
    return "msg_" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def document(
    notice: Notice, sent_at: datetime, text_limit: int = 1024, items: int = 10, links: bool = True
) -> dict[str, Any]:
    """The body as data (version 1): texts cut to `text_limit` characters, at most `items`
    top errors and sample ids, and the links only if `links`."""

    def text(value: str) -> str:
        return truncate(value, text_limit)

    def optional(value: str) -> str | None:
        return text(value) if value else None

    def link(url: str) -> str | None:
        return url if links and url and len(url) <= URL_LIMIT else None

    return {
        "version": VERSION,
        "type": event_type(notice),
        "incident": {
            "id": notice.incident_id,
            "dedup_key": notice.dedup_key,
            "status": "resolved" if notice.resolved else "open",
            "severity": notice.severity,
            "summary": text(notice.summary),
            "policy": text(notice.policy),
            "rule": text(notice.rule),
            "kind": notice.policy_kind,
            "group": optional(notice.group),
            "team": optional(notice.team),
            "model": optional(notice.model),
            "count": notice.count,
            "threshold": notice.threshold,
            "peak": notice.peak,
            "window_seconds": notice.window_seconds,
            "started_at": _moment(notice.started_at),
            "detected_at": _moment(notice.detected_at),
            "noticed_at": _moment(notice.noticed_at),
            "resolved_at": _moment(notice.resolved_at) if notice.resolved_at else None,
            "top_errors": [
                {"error": text(label), "count": count} for label, count in notice.top_errors[:items]
            ],
            "sample_request_ids": [text(rid) for rid in notice.sample_request_ids[:items]],
        },
        "links": {
            "incident": link(notice.incident_url),
            "runbook": link(notice.runbook_url),
            "silence": link(notice.silence_url),
        },
        "sent_at": _moment(sent_at),
    }


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def body(notice: Notice, sent_at: datetime) -> bytes:
    """The body as sent: the fullest version that fits in BODY_LIMIT."""
    for text_limit, items, links in FITS:
        encoded = encode(document(notice, sent_at, text_limit, items, links))
        if len(encoded) <= BODY_LIMIT:
            break
    return encoded  # the last fit always does: a few dozen fields of 64 characters


def _moment(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse_headers(value: Any) -> tuple[dict[str, str], list[str]]:
    """The extra headers (``Name: value`` lines, or a mapping from apply_config) and what is
    wrong with them. A problem names the line or header, never its value: it may be a token."""
    if not value:
        return {}, []
    if isinstance(value, Mapping):
        given = [(f"header {str(k)[:40]!r}", str(k), str(v)) for k, v in value.items()]
    elif isinstance(value, str):
        given = []
        for number, line in enumerate(value.splitlines(), 1):
            if line.strip():
                name, colon, rest = line.partition(":")
                given.append((f"line {number}", name.strip() if colon else "", rest.strip()))
    else:
        return {}, ["write one 'Name: value' per line"]
    headers: dict[str, str] = {}
    problems = []
    for where, name, header_value in given:
        problem = _header_problem(name, header_value, headers)
        if problem:
            problems.append(f"{where}: {problem}")
        else:
            headers[name] = header_value
    if len(given) > MAX_HEADERS:
        problems.append(f"at most {MAX_HEADERS} headers")
    return headers, problems


def _header_problem(name: str, value: str, earlier: Mapping[str, str]) -> str:
    if not name:
        return "write Name: value"
    if not HEADER_NAME_RE.fullmatch(name):
        return "the name may have only letters, digits and !#$%&'*+-.^_`|~"
    if name.lower() in RESERVED_HEADERS:
        return f"{name} is set by the console and cannot be replaced"
    if name.lower() in (n.lower() for n in earlier):
        return f"{name} is given twice"
    if "\r" in value or "\n" in value:
        return "the value may not contain a line break"
    if not HEADER_VALUE_RE.fullmatch(value):
        return "the value may have only printable ASCII characters"
    if len(value) > HEADER_VALUE_LIMIT:
        return f"the value is over {HEADER_VALUE_LIMIT} characters"
    return ""


class Webhook:
    name: ClassVar[str] = "webhook"
    label: ClassVar[str] = "Webhook (signed)"
    credential_label: ClassVar[str] = "Webhook URL"
    credential_help: ClassVar[str] = (
        "The https URL that receives the incident's JSON, signed per the Standard Webhooks "
        "specification with this channel's signing secret (shown once when it is created). "
        "It must lead to a public address."
    )
    fields: ClassVar[tuple[Field, ...]] = (
        Field(
            "headers",
            "Extra headers",
            "Optional headers sent with every message, one 'Name: value' per line (for example "
            "an Authorization header your receiver expects). Kept out of logs and errors, and "
            "never shown again once saved.",
            multiline=True,
            secret=True,
        ),
    )
    # A new channel's signing secret, and the check of one given: the admin (save_model) and
    # apply_config find these on the kind.
    new_signing_secret = staticmethod(new_signing_secret)
    signing_key = staticmethod(signing_key)

    def validate(self, secret: str, settings: Mapping[str, Any]) -> dict[str, str]:
        errors = {}
        problem = egress.url_problem(secret) if secret else "Enter the receiver's URL."
        if problem:
            errors["secret"] = problem
        _, header_problems = parse_headers(settings.get("headers"))
        if header_problems:
            errors["headers"] = "; ".join(header_problems) + "."
        return errors

    def render(self, notice: Notice, target: Target) -> Any:
        return json.loads(body(notice, notice.detected_at))

    def deliver(self, notice: Notice, target: Target, reference: str) -> Result:
        started = time.monotonic()
        extra, problems = parse_headers(target.settings.get("headers"))
        try:
            key = signing_key(target.signing_secret)
        except ValueError as exc:
            problems.append(str(exc))
            key = b""
        if problems:  # validated when saved; the setting changed under us, or no secret yet
            error = "; ".join(problems)
            return Result(Verdict.PERMANENT, None, "", ms_since(started), error=error)
        hidden = _secrets(target, extra)
        now = int(time.time())
        content = body(notice, datetime.fromtimestamp(now, UTC))
        mid = message_id(notice)
        headers = {
            **extra,
            "Content-Type": "application/json",
            "webhook-id": mid,
            "webhook-timestamp": str(now),
            "webhook-signature": sign(key, mid, now, content),
        }
        try:
            reply = http.request(
                "POST", target.secret, content=content, headers=headers, untrusted=True
            )
        except httpx.HTTPError as exc:
            return no_answer(exc, started, target.secret, *hidden)
        return answered(reply, started, *hidden, error=_meaning(reply.status_code))


def _secrets(target: Target, extra: Mapping[str, str]) -> list[str]:
    """What an excerpt or error must not show: the URL, its path and query (where URLs keep
    their tokens), the signing secret, the extra headers' values."""
    found = [target.secret, target.signing_secret]
    with contextlib.suppress(httpx.InvalidURL):
        found.append(httpx.URL(target.secret).raw_path.decode(errors="replace"))
    found += extra.values()
    return [value for value in found if len(value) >= SCRUB_MIN]


def _meaning(status: int) -> str:
    if status == 410:
        return "the receiver says this endpoint is gone (410): disable the channel"
    if 300 <= status < 400:
        return "a redirect, not followed: give the channel the URL it points to"
    return ""
