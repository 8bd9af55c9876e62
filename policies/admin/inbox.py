"""The console inbox: what inbox channels received, and what every other kind would have been
sent for it. Read-only: the engine writes it, people read it."""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from policies.admin.incident import ReadOnly
from policies.models import InboxMessage


@admin.register(InboxMessage)
class InboxMessageAdmin(ReadOnly, admin.ModelAdmin[InboxMessage]):
    list_display = ["at", "title", "channel", "event", "incident"]
    list_filter = [("channel", admin.RelatedOnlyFieldListFilter), "event"]
    list_select_related = ["channel", "incident"]
    search_fields = ["title"]
    date_hierarchy = "at"
    readonly_fields = ("at", "channel", "incident", "event", "title", "message", "as_sent_by_kind")
    fields = readonly_fields

    @admin.display(description="message")
    def message(self, item: InboxMessage) -> SafeString:
        return format_html('<pre class="inbox-text">{}</pre>', item.text)

    @admin.display(description="what each channel kind would have been sent")
    def as_sent_by_kind(self, item: InboxMessage) -> SafeString:
        """Each kind's rendering, as the kind made it (with no secret in it)."""
        rows = [
            (
                label,
                body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False),
            )
            for label, body in (item.renderings or {}).items()
        ]
        if not rows:
            return format_html("{}", "—")
        return format_html_join("", '<h3>{}</h3><pre class="inbox-rendering">{}</pre>', rows)
