"""HTTPS settings come from the environment and default to safe when the console is served as
HTTPS in production; the documented production configuration passes `check --deploy`."""

import json
from pathlib import Path

from tests.test_settings_startup import ROOT, run_manage

EXAMPLE = ROOT / "examples" / "production.env"
HTTPS_SETTINGS = (
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
)  # fmt: skip


def example_environment(path: Path = EXAMPLE) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def https_settings(tmp_path, **env):
    code = (
        "from django.conf import settings; import json; "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {HTTPS_SETTINGS!r}}}))"
    )
    result = run_manage(tmp_path, "shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_documented_production_configuration_passes_check_deploy(tmp_path):
    result = run_manage(tmp_path, "check", "--deploy", **example_environment())

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert result.stderr == ""


def test_served_as_https_in_production_everything_is_secure_by_default(tmp_path):
    env = example_environment()
    del env["SECURE_HSTS_INCLUDE_SUBDOMAINS"], env["SECURE_HSTS_PRELOAD"]

    assert https_settings(tmp_path, **env) == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


def test_each_https_setting_can_be_turned_off(tmp_path):
    env = example_environment() | {
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "no",
        "SECURE_HSTS_SECONDS": "0",
        "SECURE_SSL_REDIRECT": "off",
    }

    settings = https_settings(tmp_path, **env)

    assert [settings[n] for n in HTTPS_SETTINGS[:4]] == [False, False, 0, False]


def test_a_try_out_over_plain_http_keeps_cookies_usable(tmp_path):
    assert https_settings(tmp_path) == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_https_without_the_proxy_header_is_warned_and_not_redirected(tmp_path):
    env = example_environment()
    del env["SECURE_PROXY_SSL_HEADER"]

    result = run_manage(tmp_path, "check", "--deploy", **env)

    assert "console.W003" in result.stderr
    assert https_settings(tmp_path, **env)["SECURE_SSL_REDIRECT"] is False
