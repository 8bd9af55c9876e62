from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from alerting_console.history import change_history
from policies.masking import ELLIPSIS, mask_secret

if TYPE_CHECKING:
    from policies.channels.base import Kept


def mask_credential(secret: str) -> str:
    """A credential as people may see it: a URL keeps its scheme and host (which service it
    is) and the last characters of the rest; a key or token its first and last four."""
    if "://" in secret:
        parts = urlsplit(secret)
        return f"{parts.scheme}://{parts.hostname or ''}/{ELLIPSIS}{secret[-4:]}"
    return mask_secret(secret)


def secret_setting_names() -> set[str]:
    """The settings, of any kind, that are secrets (kept out of every page and the history)."""
    from policies import channels

    return {f.name for kind in channels.KINDS.values() for f in kind.fields if f.secret}


class Channel(models.Model):
    """A destination for an incident's messages: a PagerDuty service, a Slack channel, a Teams
    or Discord channel, a webhook, a mailing list, or the console's own inbox.

    What kind it is decides what its credential and settings mean (``policies.channels``). The
    credential (an integration key, a webhook URL, a bot token) and a webhook's signing secret
    are secrets: kept in columns of their own, never shown whole, never copied into the change
    history, never a list filter or a search field.
    """

    name = models.CharField(
        max_length=100,
        unique=True,
        help_text="What people call it, e.g. “Search on-call” or “#search-alerts”.",
    )
    kind = models.CharField(
        max_length=20, help_text="The service it sends to (see the channel kinds in the README)."
    )
    secret = models.TextField(
        "credential",
        blank=True,
        help_text="The integration key, webhook URL or bot token. A secret: never shown whole "
        "after saving.",
    )
    # Editable only so that the change history compares it; no form offers it.
    secret_hint = models.CharField(
        "credential", max_length=120, blank=True, help_text="The credential, masked."
    )
    signing_secret = models.CharField(
        max_length=100,
        blank=True,
        help_text="A signed webhook's key (whsec_…), made by the console and shown once.",
    )
    # The kind's settings, in two columns: the secret ones (a webhook's extra headers, which
    # may carry a token) apart, never copied into the change history. `settings` reads and
    # writes both, as one mapping.
    public_settings = models.JSONField(
        "settings",
        db_column="settings",
        default=dict,
        blank=True,
        help_text="The kind's settings that are not secret.",
    )
    secret_settings = models.JSONField(
        default=dict, blank=True, help_text="The kind's secret settings: never shown back."
    )
    # What the change history keeps of the secret settings: when they last changed, not what
    # they are. Editable only so that the history compares it; no form offers it.
    secret_settings_changed_at = models.DateTimeField(
        "secret settings changed",
        null=True,
        blank=True,
        help_text="When the secret settings were last set or changed.",
    )
    team = models.ForeignKey(
        "policies.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="channels",
        verbose_name="owning team",
        help_text="Who may edit this channel and route to it: that team's editors (empty: only "
        "ops admins). Owning a channel routes nothing to it: routes decide which incidents go "
        "there.",
    )
    description = models.TextField(blank=True, help_text="Optional notes about this channel.")
    last_success_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="The last message the service accepted."
    )
    refused_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the service last refused a message for good.",
    )
    refusal = models.CharField(
        max_length=500,
        blank=True,
        editable=False,
        help_text="What the service said when it refused: often a wrong or deleted credential.",
    )
    refusals_in_a_row = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Permanent failures since the last message accepted; at "
        "CHANNEL_DISABLE_AFTER the channel is disabled.",
    )
    disabled_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it was disabled: nothing is sent to it until a person enables it again.",
    )
    disabled_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, help_text="When it was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When it was last changed.")

    # The secrets are never copied into the history: the masked hint stands in for the
    # credential. Health is the service's doing, not a person's change.
    history = change_history(
        excluded_fields=[
            "secret",
            "signing_secret",
            "secret_settings",
            "last_success_at",
            "refused_at",
            "refusal",
            "refusals_in_a_row",
        ]
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind_label})"

    def __repr__(self) -> str:
        # Never let a credential reach a log line through repr().
        return f"<Channel {self.pk} {self.kind} {self.name!r}>"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.secret_hint = self.masked_secret
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "secret" in update_fields:
            kwargs["update_fields"] = {*update_fields, "secret_hint"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        from policies import channels

        try:
            kind = channels.kind_of(self.kind)
        except channels.UnknownKind as exc:
            raise ValidationError({"kind": str(exc)}) from None
        problems = kind.validate(self.secret, self.settings or {})
        if problems:
            raise ValidationError(problems)

    @property
    def settings(self) -> dict[str, Any]:
        """The kind's settings, secret or not, as its module and the forms take them."""
        return {**(self.public_settings or {}), **(self.secret_settings or {})}

    @settings.setter
    def settings(self, values: dict[str, Any]) -> None:
        secret = secret_setting_names()
        values = values or {}
        hidden = {k: v for k, v in values.items() if k in secret}
        if hidden != (self.secret_settings or {}):
            self.secret_settings_changed_at = timezone.now()
        self.public_settings = {k: v for k, v in values.items() if k not in secret}
        self.secret_settings = hidden

    @property
    def masked_secret(self) -> str:
        return mask_credential(self.secret)

    @property
    def kind_label(self) -> str:
        from policies import channels

        found = channels.KINDS.get(self.kind)
        return found.label if found is not None else self.kind

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


class InboxMessage(models.Model):
    """What a console-inbox channel received: the message as it would read, and what every
    other kind would have been sent for it. Nothing leaves the console."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="inbox")
    incident = models.ForeignKey(
        "policies.Incident",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="inbox_messages",
    )
    event = models.CharField(max_length=20)
    at = models.DateTimeField()
    title = models.CharField(max_length=500)
    text = models.TextField(help_text="The message as plain text.")
    renderings = models.JSONField(
        default=dict, help_text="What each channel kind would have been sent for it."
    )

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["channel", "-at"], name="inbox_channel_at")]

    def __str__(self) -> str:
        return self.title

    @classmethod
    def keep(cls, channel_id: int, kept: Kept) -> InboxMessage:
        """Store what an inbox channel was handed (``Result.kept``)."""
        return cls.objects.create(
            channel_id=channel_id,
            incident_id=kept.incident_id or None,
            event=kept.event,
            at=timezone.now(),
            title=kept.title[:500],
            text=kept.text,
            renderings=dict(kept.renderings),
        )
