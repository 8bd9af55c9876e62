"""The first admin user for `make run`."""

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def run(**kwargs):
    out = StringIO()
    call_command("ensure_admin", stdout=out, **kwargs)
    return out.getvalue()


def test_it_creates_the_admin_from_the_environment(monkeypatch):
    monkeypatch.setenv("CONSOLE_ADMIN_USER", "ops")
    monkeypatch.setenv("CONSOLE_ADMIN_PASSWORD", "correct horse battery")

    output = run(url="http://127.0.0.1:8000/admin/")

    user = User.objects.get()
    assert (user.username, user.is_superuser, user.is_staff) == ("ops", True, True)
    assert user.check_password("correct horse battery")
    assert "correct horse battery" not in output
    assert "Console: http://127.0.0.1:8000/admin/" in output


def test_it_generates_a_password_and_prints_it_once(monkeypatch):
    monkeypatch.delenv("CONSOLE_ADMIN_USER", raising=False)
    monkeypatch.delenv("CONSOLE_ADMIN_PASSWORD", raising=False)

    first = run()
    second = run()

    password = first.split("Password (shown only now): ")[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    assert len(password) >= 12
    assert password not in second
    assert "Admin user exists." in second
    assert User.objects.count() == 1


def test_a_generated_password_is_kept_for_the_announcement_and_told_once(
    monkeypatch, tmp_path, live_server
):
    monkeypatch.delenv("CONSOLE_ADMIN_USER", raising=False)
    monkeypatch.delenv("CONSOLE_ADMIN_PASSWORD", raising=False)
    kept = tmp_path / "var" / "first-login"
    password = run(remember=str(kept)).split("Password (shown only now): ")[1].split()[0]
    assert kept.stat().st_mode & 0o777 == 0o600

    url = f"{live_server.url}/admin/"
    announced = announce(url, kept)

    assert f"The Alerting Console is ready: {url}" in announced
    assert f"Log in as 'admin' with the password {password}" in announced
    assert not kept.exists()  # told once
    assert password not in announce(url, kept)


def test_a_password_from_the_environment_is_never_kept_or_announced(monkeypatch, tmp_path):
    monkeypatch.setenv("CONSOLE_ADMIN_PASSWORD", "correct horse battery")
    kept = tmp_path / "first-login"

    run(remember=str(kept))

    assert not kept.exists()


def announce(url, kept):
    out = StringIO()
    call_command("announce", url=url, remember=str(kept), once=True, settle=0, stdout=out)
    return out.getvalue()
