"""One real message of each channel kind, as its contract-checking fake received it: the
trigger of one incident, sent by each kind's own code through the one outbound seam. The
README shows them (between its channel-messages markers); tests/test_channel_samples.py
checks that they are what the code sends today.

    python -m tests.channel_samples   # prints the README's block
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

SLACK_CHANNEL = "C0SEARCH01"
SIGNING_SECRET = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
PAGERDUTY_KEY = "R0AB" + "0" * 24 + "XY12"
# Headers that change with every message, or only say how it was sent.
VARYING = {"webhook-timestamp", "webhook-signature", "content-length", "host", "user-agent"}
SHOWN_HEADERS = {"content-type", "authorization", "webhook-id", "webhook-timestamp",
                 "webhook-signature"}  # fmt: skip


@dataclass(frozen=True)
class Sample:
    label: str
    method: str
    url: str
    headers: dict[str, str]
    body: str


def _notice() -> Any:
    from tests.notices import DETECTED, STARTED, make_notice

    return make_notice(
        details={
            "policy": "Provider errors",
            "rule": "5 or more failed requests in 60 s",
            "group": "search",
            "count": 12,
            "count_at_open": 7,
            "peak": 14,
            "window_seconds": 60,
            "started_at": STARTED.isoformat(),
            "detected_at": DETECTED.isoformat(),
            "noticed_at": DETECTED.isoformat(),
            "top_errors": [
                {"error_class": "RateLimitError", "status_code": 429, "count": 9},
                {"error_class": "APIConnectionError", "status_code": None, "count": 3},
            ],
            "sample_request_ids": ["chatcmpl-a1", "chatcmpl-b2"],
            "runbook_url": "https://wiki.example.com/runbooks/provider-errors",
        }
    )


def _recorded(handle: Callable[[httpx.Request], httpx.Response], run: Callable[[], Any]) -> Any:
    from policies import http

    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return handle(request)

    before = http.transport
    http.transport = httpx.MockTransport(record)
    try:
        result = run()
    finally:
        http.transport = before
    assert result.accepted, result
    return seen[0]


def _shown(label: str, request: httpx.Request, secrets: tuple[str, ...]) -> Sample:
    from policies.channels.base import scrub
    from policies.models.channel import mask_credential

    headers = {
        name: ("…" if name in VARYING else scrub(value, *secrets))
        for name, value in request.headers.items()
        if name in SHOWN_HEADERS
    }
    body = request.content.decode()
    with contextlib.suppress(ValueError):
        body = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    url = str(request.url)
    if any(secret and secret in url for secret in secrets):
        url = mask_credential(url)  # the host stays readable: which service it is
    return Sample(label, request.method, url, headers, scrub(body, *secrets))


def samples() -> list[Sample]:
    from django.conf import settings
    from django.core import mail

    from policies.channels.base import Target
    from policies.channels.discord import Discord
    from policies.channels.email import Email
    from policies.channels.pagerduty import PagerDuty
    from policies.channels.slack import Slack
    from policies.channels.teams import Teams
    from policies.channels.webhook import Webhook
    from tests.fake_pagerduty import FakePagerDuty
    from tests.fakes.discord import FakeDiscord
    from tests.fakes.slack import FakeSlack
    from tests.fakes.teams import FakeTeams
    from tests.fakes.webhook import FakeReceiver

    notice = _notice()
    found = []

    pagerduty = FakePagerDuty()
    request = _recorded(
        pagerduty.handle, lambda: PagerDuty().deliver(notice, Target(1, "pd", PAGERDUTY_KEY), "")
    )
    found.append(_shown("PagerDuty (Events API v2)", request, (PAGERDUTY_KEY,)))

    slack = FakeSlack()
    hook = slack.add_webhook(SLACK_CHANNEL, "x" * 24)
    request = _recorded(slack.handle, lambda: Slack().deliver(notice, Target(2, "s", hook), ""))
    found.append(_shown("Slack (incoming webhook)", request, (hook,)))

    teams = FakeTeams()
    url = teams.url()
    request = _recorded(teams.handle, lambda: Teams().deliver(notice, Target(3, "t", url), ""))
    found.append(_shown("Microsoft Teams (Workflows webhook)", request, (url, teams.sig)))

    discord = FakeDiscord()
    url = discord.url()
    request = _recorded(discord.handle, lambda: Discord().deliver(notice, Target(4, "d", url), ""))
    found.append(_shown("Discord (webhook)", request, (url,)))

    receiver = FakeReceiver(secret=SIGNING_SECRET)
    url = "https://hooks.example.com/alerts"
    target = Target(5, "w", url, {}, SIGNING_SECRET)
    request = _recorded(receiver.handle, lambda: Webhook().deliver(notice, target, ""))
    found.append(_shown("Signed webhook (Standard Webhooks)", request, (SIGNING_SECRET,)))

    backend = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    try:
        sent = Email().deliver(notice, Target(6, "e", "", {"to": "oncall@example.com"}), "")
        assert sent.accepted, sent
        message = mail.outbox[0]
    finally:
        settings.EMAIL_BACKEND = backend
    found.append(
        Sample(
            "E-mail (plain text part; an HTML part goes with it)",
            "SMTP",
            "oncall@example.com",
            {"Subject": str(message.subject), "Message-ID": "<…@alerting-console.local>"},
            str(message.body),
        )
    )
    return found


def block() -> str:
    import time_machine

    from tests.notices import DETECTED

    # Sent five seconds after the incident was detected, always: the samples do not change.
    with time_machine.travel(DETECTED.timestamp() + 5, tick=False):
        made = samples()
    lines = []
    for sample in made:
        lines += [f"<details><summary>{sample.label}</summary>", ""]
        lines += [f"`{sample.method} {sample.url}`", ""]
        if sample.headers:
            lines += [f"- `{name}: {value}`" for name, value in sample.headers.items()]
            lines.append("")
        fence = "json" if sample.body.lstrip().startswith("{") else "text"
        lines += [f"```{fence}", sample.body, "```", "", "</details>", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alerting_console.settings")
    os.environ.setdefault("SECRET_KEY", "samples")
    import django

    django.setup()
    print(block())
