"""Channel kinds: one module each, behind the interface in ``base``; this table is the
registry. A new kind is one module, its tests and one line here."""

from __future__ import annotations

from policies.channels.base import ChannelKind
from policies.channels.discord import Discord
from policies.channels.email import Email
from policies.channels.inbox import Inbox
from policies.channels.pagerduty import PagerDuty
from policies.channels.slack import Slack
from policies.channels.teams import Teams
from policies.channels.webhook import Webhook

KINDS: dict[str, ChannelKind] = {
    kind.name: kind
    for kind in (
        PagerDuty(),
        Slack(),
        Teams(),
        Discord(),
        Webhook(),
        Email(),
        Inbox(),
    )
}


class UnknownKind(ValueError):
    pass


def kind_of(name: str) -> ChannelKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(f"unknown channel kind {name!r}; known: {', '.join(KINDS)}") from None


def choices() -> list[tuple[str, str]]:
    return [(kind.name, kind.label) for kind in KINDS.values()]
