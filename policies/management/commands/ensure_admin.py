"""Create the first admin user, so a fresh `make run` leads straight to the login page."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
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
        parser.add_argument(
            "--remember",
            default="",
            help="A file (made readable by its owner only) where a generated password is kept "
            "until `announce` prints it again, once, when everything has started.",
        )

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
            if options["remember"]:
                remember(Path(options["remember"]), username, password)
        if url:
            self.stdout.write(f"Console: {url}")


def remember(path: Path, username: str, password: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)  # touch keeps the mode of a file that was there
    path.write_text(f"{username}\n{password}\n")
