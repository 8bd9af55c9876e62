"""How events about the same request combine, whatever order they arrive in.

- the first start wins, the first finish wins: a repeated event changes nothing;
- descriptive fields (model, team, key alias...) keep the first non-empty value;
- latency comes from the finish, or from the start and finish times.

``store.py`` applies the same rules in SQL for rows already in the database; these functions
combine the events of one batch before they get there.
"""

from __future__ import annotations

from dataclasses import fields

from ingest.events import Event, latency_between

FINISH_FIELDS = (
    "finished_at", "outcome", "failure_class", "status_code", "latency_seconds",
    "error_class", "error_code", "error_provider", "error_message",
    "cost", "prompt_tokens", "completion_tokens", "total_tokens", "time_to_first_token_seconds",
)  # fmt: skip
DESCRIPTIVE_FIELDS = tuple(
    f.name
    for f in fields(Event)
    if f.name not in FINISH_FIELDS and f.name not in ("request_id", "started_at")
)


def adds_something(old: Event, new: Event) -> bool:
    """Whether ``new`` brings a start or a finish that ``old`` lacks."""
    return (old.started_at is None and new.started_at is not None) or (
        not old.finished and new.finished
    )


def merge(old: Event, new: Event) -> Event:
    """``old`` updated in place with what ``new`` adds, and returned."""
    if not adds_something(old, new):
        return old
    if old.started_at is None:
        old.started_at = new.started_at
    if not old.finished and new.finished:
        for name in FINISH_FIELDS:
            setattr(old, name, getattr(new, name))
    for name in DESCRIPTIVE_FIELDS:
        if not getattr(old, name):
            setattr(old, name, getattr(new, name))
    if old.latency_seconds is None:
        old.latency_seconds = latency_between(old.started_at, old.finished_at)
    return old


def merge_batch(events: list[Event]) -> list[Event]:
    """One event per request id, in first-seen order."""
    by_id: dict[str, Event] = {}
    for event in events:
        seen = by_id.get(event.request_id)
        if seen is None:
            by_id[event.request_id] = event
        else:
            merge(seen, event)
    return list(by_id.values())
