from __future__ import annotations

from django.db import models

from policies.models.channel import Channel


class Probe(models.Model):
    """A test message sent to a channel (policies.probe): what was sent and what the service
    answered, listed with the channel's recent deliveries. Secrets are masked in the bodies."""

    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="probes", help_text="Where it went."
    )
    sent_by = models.CharField(max_length=150, help_text="Who sent it, or the command.")
    sent_at = models.DateTimeField(help_text="When it was sent.")
    # Text, not JSON: jsonb would reorder the keys, and this is shown as it was sent.
    trigger_body = models.TextField(help_text="The first message as sent, secrets masked.")
    trigger_answer = models.CharField(max_length=500, help_text="The service's answer to it.")
    resolve_body = models.TextField(
        blank=True, help_text="The resolve as sent; empty if the first message failed."
    )
    resolve_answer = models.CharField(max_length=500, blank=True)
    ok = models.BooleanField(help_text="Whether the service accepted both.")

    class Meta:
        verbose_name = "test event"
        indexes = [
            # The channel's page: its latest test messages.
            models.Index(fields=["channel", "-sent_at"], name="probe_channel_sent_at")
        ]

    def __str__(self) -> str:
        return f"test message to {self.channel_id} at {self.sent_at:%Y-%m-%d %H:%M:%S}"
