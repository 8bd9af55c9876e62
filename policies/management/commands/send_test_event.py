"""Send a test message and its resolve to a channel and print the service's answers."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from policies.models import Channel
from policies.probe import send_probe


class Command(BaseCommand):
    help = "Send a test message (then its resolve) to a channel, by name."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The channel's name, as in the admin.")

    def handle(self, *args: Any, **options: Any) -> None:
        key = Channel.objects.filter(name=options["name"]).first()
        if key is None:
            raise CommandError(f"no channel named {options['name']!r}")
        result = send_probe(key, sent_by="manage.py send_test_event")
        if not result.ok:
            raise CommandError(
                f"{key.name} ({key.masked_secret or key.kind_label}): {result.describe()}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{key.name} ({key.masked_secret or key.kind_label}): {result.describe()}"
            )
        )
