"""The console inbox: a channel that sends nothing and keeps the message, with what every other
kind would have been sent for it, in the admin ("Inbox messages"). A newcomer sees a whole
alert with no account anywhere; a team tries a new policy before it wakes anybody.

Its "service" is the console itself: it hands the message back in its Result (``kept``), and
the worker stores it (``InboxMessage.keep``), as for the other kinds it records the answer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

from policies.channels import text
from policies.channels.base import Field, Kept, Notice, Result, Target, Verdict, ms_since


def renderings(notice: Notice) -> dict[str, Any]:
    """What each other kind would send for the notice, with a placeholder credential."""
    from policies.channels import KINDS

    placeholder = Target(0, "example", "", {})
    shown = {}
    for name, kind in KINDS.items():
        if name != Inbox.name:
            shown[kind.label] = kind.render(notice, placeholder)
    return shown


class Inbox:
    name: ClassVar[str] = "inbox"
    label: ClassVar[str] = "Console inbox"
    credential_label: ClassVar[str] = ""
    credential_help: ClassVar[str] = ""
    fields: ClassVar[tuple[Field, ...]] = ()

    def validate(self, secret: str, settings: Mapping[str, Any]) -> dict[str, str]:
        if secret:
            return {"secret": "The console inbox sends nothing out: it takes no credential."}
        return {}

    def deliver(self, notice: Notice, target: Target, reference: str) -> Result:
        started = time.monotonic()
        kept = Kept(
            event=notice.event.value,
            incident_id=notice.incident_id,
            title=text.title(notice),
            text=text.plain(notice),
            renderings=renderings(notice),
        )
        return Result(Verdict.DELIVERED, None, "", ms_since(started), kept=kept)

    def render(self, notice: Notice, target: Target) -> Any:
        return text.plain(notice)
