"""Create the first admin user, so a fresh `make run` leads straight to the login page."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Create a superuser if none exists: CONSOLE_ADMIN_USER / CONSOLE_ADMIN_PASSWORD, "
        "or 'admin' with a generated password printed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="", help="The admin URL to print.")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        url = options["url"]
        if user_model.objects.filter(is_superuser=True).exists():
            self.stdout.write(f"Admin user exists. Console: {url}" if url else "Admin user exists.")
            return
        username = os.environ.get("CONSOLE_ADMIN_USER") or "admin"
        password = os.environ.get("CONSOLE_ADMIN_PASSWORD")
        generated = not password
        if not password:
            password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created admin user {username!r}."))
        if generated:
            # Shown once, on the terminal of the person who ran `make run`; never logged.
            self.stdout.write(f"Password (shown only now): {password}")
        if url:
            self.stdout.write(f"Console: {url}")
