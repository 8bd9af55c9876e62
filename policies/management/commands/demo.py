"""A complete first alert with no account anywhere: `python manage.py demo` after `make run`.

It makes a team, a console-inbox channel owned by it, a route to it and a policy, then sends
a burst of failed requests to the running console over HTTP, as a gateway would, and waits
for the incident and the inbox message. The inbox message shows the alert as it reads, and
what every other channel kind (PagerDuty, Slack, Teams, Discord, the signed webhook, e-mail)
would have been sent for it. Run again, it reuses what it made and sends a new burst.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from ingest.models import IngestToken
from policies.models import (
    AlertPolicy,
    Channel,
    GroupBy,
    InboxMessage,
    Incident,
    IncidentStatus,
    Route,
    Team,
)

TEAM_ID = "demo-team"  # what the gateway would send as the request's team
SOURCE = "demo-gateway"
THRESHOLD = 5


class Command(BaseCommand):
    help = (
        "Try an alert end to end: make a team, an inbox channel, a route and a policy, send a "
        "burst of failures to the running console, and show where to see the result."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="The running console (make run's address by default).",
        )
        parser.add_argument("--failures", type=int, default=8, help="How many failed requests.")
        parser.add_argument(
            "--wait", type=float, default=60.0, help="Seconds to wait for the inbox message."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base = options["url"].rstrip("/")
        policy, inbox = self.set_up()
        still_open = (
            InboxMessage.objects.filter(
                channel=inbox, incident__policy=policy, incident__status=IncidentStatus.OPEN
            )
            .select_related("incident")
            .last()
        )
        if still_open is not None:
            # Another burst would change nothing: one incident per problem, until it clears.
            self.stdout.write("The demo's incident is still open (it resolves once the failures")
            self.stdout.write("are a minute old); here is its message again.")
            message = still_open
        else:
            self.send_failures(base, self.token(), options["failures"])
            message = self.wait_for_message(inbox, policy, options["wait"])
        incident = message.incident
        self.stdout.write(self.style.SUCCESS("The alert went through."))
        if incident is not None:
            self.stdout.write(f"Incident: {base}/admin/policies/incident/{incident.pk}/change/")
        self.stdout.write(
            f"What each channel kind would have received: "
            f"{base}/admin/policies/inboxmessage/{message.pk}/change/"
        )
        self.stdout.write(
            "The inbox sends nothing out. To page someone for real, add a channel of another "
            "kind in the admin (Channels) and a route to it."
        )

    @transaction.atomic
    def set_up(self) -> tuple[AlertPolicy, Channel]:
        team, _ = Team.objects.get_or_create(
            slug="demo", defaults={"name": "Demo", "gateway_team_id": TEAM_ID}
        )
        inbox, made = Channel.objects.get_or_create(
            name="Demo inbox",
            defaults={
                "kind": "inbox",
                "team": team,
                "description": "Made by `manage.py demo`: keeps messages, sends nothing.",
            },
        )
        if not made and inbox.kind != "inbox":
            raise CommandError("a channel named 'Demo inbox' exists and is not an inbox")
        route = Route.objects.filter(scope=Route.Scope.TEAM, team=team, kinds=[]).first()
        if route is None:
            route = Route.objects.create(scope=Route.Scope.TEAM, team=team)
        route.channels.add(inbox)
        policy, _ = AlertPolicy.objects.get_or_create(
            name="Demo: failed requests",
            defaults={
                "threshold": THRESHOLD,
                "window_seconds": 60,
                "group_by": GroupBy.TEAM,
                "resolve_hold_seconds": 0,
                "description": "Made by `manage.py demo`.",
            },
        )
        self.stdout.write(
            f"Team {team.name}, channel {inbox.name} and a route to it, policy {policy.name!r} "
            f"({policy.describe()})."
        )
        return policy, inbox

    def token(self) -> str:
        row = IngestToken(name=f"demo {uuid.uuid4().hex[:6]}", source=SOURCE)
        token = row.set_new_token()
        row.save()
        return token

    def send_failures(self, base: str, token: str, count: int) -> None:
        now = time.time()
        events = [
            {
                "event": "finished",
                "request_id": f"demo-{uuid.uuid4().hex[:12]}",
                "status": "failure",
                "started_at": now - 1.5,
                "finished_at": now,
                "status_code": 503,
                "error_class": "ServiceUnavailableError",
                "team_id": TEAM_ID,
                "key_alias": "demo-app",
                "model_group": "demo-model",
            }
            for _ in range(count)
        ]
        try:
            answer = httpx.post(
                f"{base}/ingest/v1/events",
                json=events,
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
        except httpx.HTTPError as exc:
            raise CommandError(
                f"the console does not answer at {base} ({type(exc).__name__}): start it with "
                "`make run` first, or give its address with --url"
            ) from None
        if answer.status_code != 200:
            raise CommandError(
                f"the console refused the events: {answer.status_code} {answer.text}"
            )
        self.stdout.write(f"Sent {count} failed requests to {base}/ingest/v1/events.")

    def wait_for_message(self, inbox: Channel, policy: AlertPolicy, seconds: float) -> InboxMessage:
        started = time.monotonic()
        known = set(InboxMessage.objects.filter(channel=inbox).values_list("pk", flat=True))
        self.stdout.write("Waiting for the evaluation and the inbox message...")
        while time.monotonic() - started < seconds:
            message = (
                InboxMessage.objects.filter(channel=inbox)
                .exclude(pk__in=known)
                .select_related("incident")
                .order_by("pk")
                .first()
            )
            if message is not None:
                return message
            time.sleep(0.5)
        open_now = Incident.objects.filter(policy=policy, status=IncidentStatus.OPEN).first()
        hint = (
            "an incident is open but its message has not arrived: is the deliveries worker running?"
            if open_now is not None
            else "no incident opened: are Celery beat and the engine worker running "
            "(make run starts them)?"
        )
        raise CommandError(f"nothing in the inbox after {seconds:g} s: {hint}")
