"""Strict readers for environment variables.

django-environ parses the values, but it is lenient: ``Env.bool`` turns "ture" into False and
``db_url`` accepts "notaurl". A console that pages people must not start half-configured, so
every reader here raises ``ConfigError`` naming the variable and the reason instead.
The readers take the environment as a mapping, so they are tested without touching os.environ.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class ConfigError(ImproperlyConfigured):
    """A setting in the environment is missing or malformed."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        super().__init__(f"{name}: {reason}")


def _raw(environ_: Mapping[str, str], name: str) -> str | None:
    value = environ_.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def read_str(environ_: Mapping[str, str], name: str, default: str = "") -> str:
    value = _raw(environ_, name)
    return default if value is None else value


def read_bool(environ_: Mapping[str, str], name: str, default: bool) -> bool:
    value = _raw(environ_, name)
    if value is None:
        return default
    word = value.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(name, f"expected a boolean (true/false, yes/no, on/off, 1/0), got {value!r}")


def read_int(
    environ_: Mapping[str, str],
    name: str,
    default: int,
    minimum: int = 0,
    maximum: int | None = None,
) -> int:
    value = _raw(environ_, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {value!r}") from None
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConfigError(name, f"must be {bounds}, got {number}")
    return number


def read_float(
    environ_: Mapping[str, str], name: str, default: float, minimum: float = 0.0
) -> float:
    value = _raw(environ_, name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(name, f"expected a number, got {value!r}") from None
    if not number >= minimum:  # also rejects NaN
        raise ConfigError(name, f"must be >= {minimum}, got {value}")
    return number


def read_choice(
    environ_: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]
) -> str:
    value = _raw(environ_, name)
    if value is None:
        return default
    if value.upper() not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value.upper()


def read_list(environ_: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    value = _raw(environ_, name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def read_networks(
    environ_: Mapping[str, str], name: str
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated addresses or CIDR blocks (``10.0.0.0/8, 2001:db8::/32, 192.0.2.1``)."""
    networks = []
    for item in read_list(environ_, name, []):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(name, f"not an IP address or CIDR block: {item!r}") from None
    return networks


def check_url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise ConfigError(name, f"not a valid URL ({exc}): {value!r}") from None
    if parts.scheme not in schemes:
        raise ConfigError(name, f"scheme must be one of {', '.join(schemes)}, got {value!r}")
    if not parts.netloc and parts.scheme in ("http", "https", "redis", "rediss"):
        raise ConfigError(name, f"URL has no host: {value!r}")
    return value


def read_url(environ_: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = _raw(environ_, name)
    if value is None:
        return default
    return check_url(name, value, schemes)


def read_url_list(environ_: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> list[str]:
    return [check_url(name, item, schemes) for item in read_list(environ_, name, [])]


DATABASE_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")


def read_database(
    environ_: Mapping[str, str], name: str, default_sqlite_path: str
) -> dict[str, Any]:
    """DATABASE_URL as a Django DATABASES entry; the embedded SQLite file when unset."""
    value = _raw(environ_, name)
    if value is None:
        value = f"sqlite:///{default_sqlite_path}"
    else:
        check_url(name, value, DATABASE_SCHEMES)
    try:
        config: dict[str, Any] = environ.Env.db_url_config(value)
    except (ValueError, ImproperlyConfigured) as exc:
        raise ConfigError(name, f"not a valid database URL ({exc})") from None
    if not config.get("NAME"):
        raise ConfigError(name, "the URL names no database")
    return config
