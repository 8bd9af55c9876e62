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
