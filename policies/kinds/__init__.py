"""The alert kinds: each declared once, in a module of its own (policies/kinds/<name>.py), and
listed here. Everything that depends on a policy's kind asks this registry; a kind it does not
know is an error (``UnknownKind``), never treated as some other kind."""

from __future__ import annotations

from policies.kinds import (
    budget,
    deployment_outage,
    failure_rate,
    failures,
    first_token_percentile,
    hung,
    latency_percentile,
    region_outage,
    slow,
    too_little_traffic,
)
from policies.kinds.base import Defaults, Kind, Measure

__all__ = ["KINDS", "Defaults", "Kind", "Measure", "UnknownKind", "choices", "get"]

# In the order the admin offers them.
KINDS: dict[str, Kind] = {
    module.KIND.name: module.KIND
    for module in (
        failures,
        hung,
        slow,
        failure_rate,
        latency_percentile,
        first_token_percentile,
        deployment_outage,
        region_outage,
        too_little_traffic,
        budget,
    )
}


class UnknownKind(ValueError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown alert kind {name!r}; known: {', '.join(KINDS)}")


def get(name: str) -> Kind:
    """The kind of this name; UnknownKind if there is none."""
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(name) from None


def choices() -> list[tuple[str, str]]:
    """The kinds as a field's choices, in registry order (a callable: a kind added here needs
    no migration of the fields that offer them)."""
    return [(kind.name, kind.label) for kind in KINDS.values()]


def litellm_alert_types() -> dict[str, tuple[str, ...]]:
    """LiteLLM's alert_types, each with the console's kinds it stands for, in registry order."""
    names: dict[str, tuple[str, ...]] = {}
    for kind in KINDS.values():
        for alert_type in kind.litellm_alert_types:
            names[alert_type] = (*names.get(alert_type, ()), kind.name)
    return names
