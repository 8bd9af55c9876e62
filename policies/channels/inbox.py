"""The console inbox: a channel that sends nothing and keeps the message, with what every other
kind would have been sent for it, in the admin ("Inbox messages"). A newcomer sees a whole
alert with no account anywhere; a team tries a new policy before it wakes anybody.

The one kind that writes to the database: its "service" is the console itself.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils import timezone

from policies.channels import text
from policies.channels.base import Field, Notice, Result, Target, Verdict, ms_since


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
        from policies.models import InboxMessage

        started = time.monotonic()
        message = InboxMessage.objects.create(
            channel_id=target.id,
            incident_id=notice.incident_id or None,
            event=notice.event.value,
            at=timezone.now(),
            title=text.title(notice)[:500],
            text=text.plain(notice),
            renderings=renderings(notice),
        )
        return Result(
            Verdict.DELIVERED, None, "", ms_since(started), reference=f"inbox:{message.pk}"
        )

    def render(self, notice: Notice, target: Target) -> Any:
        return text.plain(notice)
