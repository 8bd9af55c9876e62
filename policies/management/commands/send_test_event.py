"""Send a test trigger and resolve to a routing key and print PagerDuty's answers."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from policies.models import RoutingKey
from policies.probe import send_probe


class Command(BaseCommand):
    help = "Send a test event (a trigger, then its resolve) to a routing key, by name."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The routing key's name, as in the admin.")

    def handle(self, *args: Any, **options: Any) -> None:
        key = RoutingKey.objects.filter(name=options["name"]).first()
        if key is None:
            raise CommandError(f"no routing key named {options['name']!r}")
        result = send_probe(key, sent_by="manage.py send_test_event")
        if not result.ok:
            raise CommandError(f"{key.name} ({key.masked_key}): {result.describe()}")
        self.stdout.write(self.style.SUCCESS(f"{key.name} ({key.masked_key}): {result.describe()}"))
