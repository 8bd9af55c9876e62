"""System checks: configurations that parse but would be unsafe or surprising in production.

They run with every management command (migrate, check, runserver) and in `make run`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1", ".localhost", "testserver"})


def _in_production() -> bool:
    # Production means a real database is configured and DEBUG is off; the embedded SQLite
    # default exists only for trying the console out.
    return not settings.DEBUG and not settings.EMBEDDED_DATABASE


def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.SECRET_KEY_GENERATED and _in_production():
        return [
            Error(
                "SECRET_KEY is not set.",
                hint="Production (DATABASE_URL set, DEBUG off) needs a long random SECRET_KEY "
                "shared by every replica; the generated one under var/ is for a local try-out.",
                id="console.E001",
            )
        ]
    return []


def check_debug_hosts(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    public = sorted(host for host in settings.ALLOWED_HOSTS if host not in LOCAL_HOSTS)
    if settings.DEBUG and public:
        return [
            Error(
                f"DEBUG is on while ALLOWED_HOSTS admits public hosts: {', '.join(public)}.",
                hint="DEBUG pages show settings and stack traces to anyone: turn DEBUG off, "
                "or limit ALLOWED_HOSTS to localhost.",
                id="console.E002",
            )
        ]
    return []


def check_base_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not settings.CONSOLE_BASE_URL and _in_production():
        return [
            Warning(
                "CONSOLE_BASE_URL is not set.",
                hint="Pages sent to PagerDuty will carry no link back to the incident.",
                id="console.W001",
            )
        ]
    return []


def check_embedded_services(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not settings.DEBUG and not settings.EMBEDDED_DATABASE and settings.EMBEDDED_BROKER:
        return [
            Warning(
                "REDIS_URL is not set: Celery uses the file-based queue under var/.",
                hint="That queue works for one machine only; set REDIS_URL in production.",
                id="console.W002",
            )
        ]
    return []


def check_proxy_ssl_header(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.SERVED_OVER_HTTPS and not getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        return [
            Warning(
                "CONSOLE_BASE_URL is HTTPS but SECURE_PROXY_SSL_HEADER is not set.",
                hint="The web server speaks plain HTTP to the TLS proxy, so Django cannot tell "
                "HTTPS requests apart, and does not redirect plain HTTP. Have the proxy set "
                "X-Forwarded-Proto and set SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto.",
                id="console.W003",
            )
        ]
    return []
