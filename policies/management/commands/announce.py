"""The last words of `make run`'s start-up: where the console is and how to log in, printed
once the web server answers, after the worker's and beat's banners have scrolled past."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Wait for the console to answer, say how to log in, then stay up (a Procfile process)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", required=True, help="The admin URL.")
        parser.add_argument(
            "--remember", default="", help="The file ensure_admin kept a generated password in."
        )
        parser.add_argument("--timeout", type=float, default=120.0)
        parser.add_argument(
            "--settle",
            type=float,
            default=3.0,
            help="Seconds to wait once it answers: the worker and beat print their banners.",
        )
        parser.add_argument("--once", action="store_true", help="Exit after printing (tests).")

    def handle(self, *args: Any, **options: Any) -> None:
        url: str = options["url"]
        try:
            if wait_until_answering(url, options["timeout"]):
                time.sleep(options["settle"])
                self.stdout.write(banner(url, recall(options["remember"])))
            else:
                self.stderr.write(f"The console did not answer at {url}; see the web log above.")
            if not options["once"]:
                signal.pause()  # honcho stops every process when one exits
        except KeyboardInterrupt:  # Ctrl-C stops everything: no traceback for it
            pass


def wait_until_answering(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2, follow_redirects=True).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def recall(path: str) -> tuple[str, str] | None:
    """The generated credentials ensure_admin kept, read once: the file is removed."""
    if not path or not Path(path).exists():
        return None
    username, password = Path(path).read_text().splitlines()[:2]
    Path(path).unlink()
    return username, password


def banner(url: str, credentials: tuple[str, str] | None) -> str:
    if credentials is None:
        login = "Log in with your admin user (reset a password: python manage.py changepassword)."
    else:
        username, password = credentials
        login = (
            f"Log in as {username!r} with the password {password} (generated, shown only on "
            f"this first start; change it: python manage.py changepassword {username})."
        )
    line = "=" * 78
    return f"\n{line}\nThe Alerting Console is ready: {url}\n{login}\n{line}\n"
