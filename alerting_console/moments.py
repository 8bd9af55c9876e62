"""A moment as the console writes it in messages, timelines and lists: the same form as every
admin page shows (alerting_console/formats)."""

from __future__ import annotations

from datetime import UTC, datetime


def shown(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
