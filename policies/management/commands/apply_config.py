"""`manage.py apply_config FILE.yaml`: teams, channels, routes and policies from a file."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from policies.config import ConfigError, apply_config, load_file


class Command(BaseCommand):
    help = (
        "Create or update teams, channels (PagerDuty, Slack, Microsoft Teams, Discord, signed "
        "webhooks, e-mail, the console inbox; routing_keys are PagerDuty channels), routes and "
        "alert policies from a YAML file: the console's format, or a LiteLLM config.yaml, whose "
        "alerting settings become policies, channels and routes. Secrets are read from the "
        "environment (os.environ/NAME) and never printed. Running it again changes nothing; "
        "nothing is deleted. See docs/apply-config.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The YAML file to apply.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the file and report what would change, without writing anything.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = load_file(options["file"])
            report = apply_config(config, dry_run=options["dry_run"])
        except ConfigError as exc:
            raise CommandError(f"{exc}\nNothing was changed.") from None
        for line in report.lines():
            self.stdout.write(line)
