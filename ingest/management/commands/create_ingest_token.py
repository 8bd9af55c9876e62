"""Create an ingest token from the command line; it is printed once and stored hashed."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingest.models import IngestToken
from policies.models import Team


class Command(BaseCommand):
    help = "Create an ingest token for a gateway and print it (the only time it is shown)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who uses the token, e.g. litellm-prod.")
        parser.add_argument(
            "--source",
            help="The gateway the token feeds (defaults to the name); tokens of one gateway "
            "share a source so that a request's start and finish merge.",
        )
        parser.add_argument("--team", help="Slug of a team that events without a team belong to.")

    def handle(self, *args: Any, **options: Any) -> None:
        team = None
        if options["team"]:
            team = Team.objects.filter(slug=options["team"]).first()
            if team is None:
                raise CommandError(f"--team: no team with slug {options['team']!r}")
        row = IngestToken(
            name=options["name"], source=options["source"] or options["name"], team=team
        )
        token = row.set_new_token()
        try:
            row.full_clean()
        except ValidationError as exc:
            messages = "; ".join(
                f"{field}: {' '.join(errs)}" for field, errs in exc.message_dict.items()
            )
            raise CommandError(messages) from None
        row.save()
        self.stdout.write(f"Created ingest token {row.name!r} (source {row.source!r}).")
        self.stdout.write("Token (shown only now; the console keeps only its hash):")
        self.stdout.write(token)
