"""Chromium driven by Playwright, and a page of it logged in to the admin of Django's live test
server, for the browser tests of forms and pages."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@contextmanager
def chromium() -> Iterator[Browser]:
    """Chromium, headless. While Playwright's sync API runs, the tests' own ORM calls get
    database connections of their own (the code runs in another context than pytest-django's
    fixtures, whose teardown never sees them): they are closed here, or one is still open when
    the test database is dropped at the end of the run."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()
            connections.close_all()


@contextmanager
def admin_page(
    base_url: str, path: str = "/admin/", width: int = 1366, height: int = 900
) -> Iterator[Page]:
    """Logged in as `admin` (pytest-django's admin_user), at `path`."""
    # An earlier test's flush re-created the content types under new ids: the admin's log of
    # this test's changes must not use the ids this process cached before.
    ContentType.objects.clear_cache()
    with chromium() as browser:
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        page.goto(f"{base_url}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "password")
        page.click("input[type=submit]")
        page.goto(f"{base_url}{path}")
        yield page
