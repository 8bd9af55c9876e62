"""The change history of what people edit: django-simple-history, which ships no type hints,
behind one typed name."""

from __future__ import annotations

from typing import Any

from simple_history.models import HistoricalRecords  # type: ignore[import-untyped]


def change_history(**options: Any) -> Any:
    """A model's ``history``: every save kept with who made it (see the library's docs)."""
    return HistoricalRecords(**options)
