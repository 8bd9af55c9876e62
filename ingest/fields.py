"""Reading one field of an untrusted event: the value, or an ``EventError`` naming the field.

Gateways drift between versions, so a missing optional field is fine and unknown fields are
ignored; but a value of the wrong type is refused with a reason rather than guessed at.
"""

from __future__ import annotations

import functools
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

# Timestamps further ahead than this are refused: a gateway clock this far off would put its
# events in windows that have not happened yet.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# Older events would fall outside every window and be pruned at once.
MAX_EVENT_AGE = timedelta(days=30)
MAX_DURATION_SECONDS = 7 * 24 * 3600.0


class EventError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def shown(value: object, most: int = 40) -> str:
    """A value quoted in a reason: its start only, so a huge value costs no more than a small
    one to report (a reason is built for every invalid item of a body)."""
    if isinstance(value, str):
        return repr(value[:most]) + ("…" if len(value) > most else "")
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)[:most]
    return type(value).__name__


def text(obj: dict[str, Any], key: str, max_length: int, field: str | None = None) -> str:
    """An optional short string. Numbers are accepted (ids are sometimes sent as numbers);
    NUL characters, which Postgres cannot store, are removed; long values are cut."""
    value = obj.get(key)
    if value is None:
        return ""
    if type(value) is not str:  # the common case first: this runs ~15 times per event
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EventError(field or key, f"must be a string, got {type(value).__name__}")
        value = str(value)
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value if len(value) <= max_length else value[:max_length]


def identifier(obj: dict[str, Any], key: str, field: str | None = None) -> str:
    """A required id: a non-empty string of at most 255 characters, without NUL."""
    value = obj.get(key)
    name = field or key
    if value is None or value == "":
        raise EventError(name, "is required")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EventError(name, f"must be a string, got {type(value).__name__}")
    value = str(value)
    if len(value) > 255:
        raise EventError(name, f"must be at most 255 characters, got {len(value)}")
    if "\x00" in value:
        raise EventError(name, "must not contain NUL characters")
    return value


def number(obj: dict[str, Any], key: str, maximum: float, field: str | None = None) -> float | None:
    """An optional number >= 0 and <= maximum."""
    value = obj.get(key)
    if value is None:
        return None
    kind = type(value)
    if (
        kind is not float
        and kind is not int
        and (isinstance(value, bool) or not isinstance(value, int | float))
    ):
        raise EventError(field or key, f"must be a number, got {type(value).__name__}")
    if not 0 <= value <= maximum:  # also false for NaN
        if not math.isfinite(value) or value < 0:
            raise EventError(field or key, f"must be a number >= 0, got {value}")
        raise EventError(field or key, f"must be at most {maximum:g}, got {value}")
    return float(value)


def count(obj: dict[str, Any], key: str, field: str | None = None) -> int | None:
    """An optional whole number >= 0 (token counts)."""
    value = number(obj, key, maximum=2**31 - 1, field=field)
    if value is None:
        return None
    if value != int(value):
        raise EventError(field or key, f"must be a whole number, got {value}")
    return int(value)


@functools.lru_cache(maxsize=8)
def _bounds(now: datetime) -> tuple[float, float]:
    return (now - MAX_EVENT_AGE).timestamp(), (now + MAX_CLOCK_SKEW).timestamp()


def timestamp(
    obj: dict[str, Any], key: str, now: datetime, field: str | None = None
) -> datetime | None:
    """An optional point in time: seconds since the epoch, or an ISO 8601 string with a zone."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    kind = type(value)
    if kind is float or kind is int:  # the common case, checked without building datetimes
        earliest, latest = _bounds(now)
        if earliest <= value <= latest:
            return datetime.fromtimestamp(value, UTC)
    name = field or key
    if isinstance(value, bool):
        raise EventError(name, "must be seconds since the epoch or an ISO 8601 time, got bool")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise EventError(name, f"must be a finite number, got {value}")
        try:
            moment = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise EventError(name, f"is not a valid time: {value}") from None
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise EventError(name, f"is not an ISO 8601 time: {shown(value)}") from None
        if moment.tzinfo is None:
            raise EventError(name, "needs a time zone (e.g. 2026-01-01T12:00:00Z)")
    else:
        raise EventError(
            name, f"must be seconds since the epoch or an ISO 8601 time, got {type(value).__name__}"
        )
    if moment > now + MAX_CLOCK_SKEW:
        raise EventError(
            name, f"is in the future ({moment.isoformat()}); check the gateway's clock"
        )
    if moment < now - MAX_EVENT_AGE:
        raise EventError(name, f"is more than 30 days old ({moment.isoformat()})")
    return moment


MAX_TAGS = 32
TAG_LENGTH = 100


def tags(obj: dict[str, Any], key: str, field: str | None = None) -> str:
    """Optional request tags: a list of strings, kept as a JSON array ("" for none). At most
    MAX_TAGS, each cut to TAG_LENGTH characters: tags describe, they must not bloat a row."""
    value = obj.get(key)
    if value is None or value == []:
        return ""
    name = field or key
    if not isinstance(value, list):
        raise EventError(name, f"must be a list of strings, got {type(value).__name__}")
    for index, tag in enumerate(value[:MAX_TAGS]):
        if type(tag) is not str:
            raise EventError(f"{name}[{index}]", f"must be a string, got {type(tag).__name__}")
    return _encoded_tags(tuple(value[:MAX_TAGS]))


@functools.lru_cache(maxsize=4096)  # a gateway's requests share a few sets of tags
def _encoded_tags(sent: tuple[str, ...]) -> str:
    kept: list[str] = []
    for tag in sent:
        tag = tag.replace("\x00", "")[:TAG_LENGTH]
        if tag and tag not in kept:
            kept.append(tag)
    return json.dumps(kept, ensure_ascii=False, separators=(",", ":")) if kept else ""
