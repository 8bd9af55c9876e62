"""A Chromium page logged in to the admin of Django's live test server, for the browser tests
of forms and pages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.contenttypes.models import ContentType
from playwright.sync_api import Page, sync_playwright

from tests.e2e.test_browser import CHROMIUM


@contextmanager
def admin_page(
    base_url: str, path: str = "/admin/", width: int = 1366, height: int = 900
) -> Iterator[Page]:
    """Logged in as `admin` (pytest-django's admin_user), at `path`."""
    # An earlier test's flush re-created the content types under new ids: the admin's log of
    # this test's changes must not use the ids this process cached before.
    ContentType.objects.clear_cache()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        page.goto(f"{base_url}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "password")
        page.click("input[type=submit]")
        page.goto(f"{base_url}{path}")
        try:
            yield page
        finally:
            browser.close()
