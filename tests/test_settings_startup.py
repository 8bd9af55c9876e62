"""Start-up with a bad environment stops with a message naming the variable; checks catch
configurations that parse but are unsafe. Each case runs the real start-up in a subprocess,
because settings are read once per process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_manage(tmp_path, *args, **env):
    environ = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "ALLOWED_HOSTS",
            "SECRET_KEY",
            "DATABASE_URL",
            "REDIS_URL",
            "CONSOLE_BASE_URL",
            "PAGERDUTY_EVENTS_URL",
            "CSRF_TRUSTED_ORIGINS",
            # Set by the browser tests' Playwright plugin; check --deploy refuses it.
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    environ.update(CONSOLE_VAR_DIR=str(tmp_path / "var"), **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "ture"),
        ("PAGERDUTY_EVENTS_URL", "events.pagerduty.com/v2/enqueue"),
        ("DATABASE_URL", "mysql://localhost/x"),
        ("REDIS_URL", "localhost:6379"),
        ("CONSOLE_BASE_URL", "console.example.com"),
        ("CSRF_TRUSTED_ORIGINS", "console.example.com"),
        ("HTTP_TIMEOUT_SECONDS", "soon"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("TRUSTED_PROXY_COUNT", "one"),
        ("SESSION_COOKIE_SECURE", "sure"),
    ],
)
def test_junk_in_a_variable_stops_start_up_naming_it(tmp_path, name, value):
    result = run_manage(tmp_path, "check", **{name: value})

    assert result.returncode != 0
    assert f"{name}: " in result.stderr
    assert repr(value) in result.stderr


def test_the_embedded_default_starts_with_no_configuration(tmp_path):
    result = run_manage(tmp_path, "check")

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_without_secret_key_fails_the_checks(tmp_path):
    result = run_manage(tmp_path, "check", DATABASE_URL="postgres://postgres@127.0.0.1/test")

    assert result.returncode != 0
    assert "console.E001" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


def test_production_with_secret_key_passes_but_warns_about_missing_urls(tmp_path):
    result = run_manage(
        tmp_path, "check", DATABASE_URL="postgres://postgres@127.0.0.1/test", SECRET_KEY="s" * 50
    )

    assert result.returncode == 0, result.stderr
    assert "console.W001" in result.stderr  # no CONSOLE_BASE_URL: pages carry no link
    assert "console.W002" in result.stderr  # no REDIS_URL: file queue in production


def test_debug_with_a_public_allowed_host_fails_the_checks(tmp_path):
    result = run_manage(tmp_path, "check", DEBUG="true", ALLOWED_HOSTS="localhost,console.acme.io")

    assert result.returncode != 0
    assert "console.E002" in result.stderr
    assert "console.acme.io" in result.stderr


def test_debug_on_localhost_only_is_fine(tmp_path):
    result = run_manage(tmp_path, "check", DEBUG="true")

    assert result.returncode == 0, result.stderr
