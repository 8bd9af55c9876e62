from __future__ import annotations

from django.db import models

from policies.models.routing import RoutingKey


class Probe(models.Model):
    """A test event sent to a routing key (policies.probe): what was sent and what PagerDuty
    answered, listed with the key's recent deliveries. The bodies keep the key masked only."""

    routing_key = models.ForeignKey(
        RoutingKey, on_delete=models.CASCADE, related_name="probes", help_text="Where it went."
    )
    sent_by = models.CharField(max_length=150, help_text="Who sent it, or the command.")
    sent_at = models.DateTimeField(help_text="When it was sent.")
    # Text, not JSON: jsonb would reorder the keys, and this is shown as it was sent.
    trigger_body = models.TextField(help_text="The trigger as sent (JSON), the key masked.")
    trigger_answer = models.CharField(max_length=500, help_text="PagerDuty's answer to it.")
    resolve_body = models.TextField(
        blank=True, help_text="The resolve as sent (JSON); empty if the trigger failed."
    )
    resolve_answer = models.CharField(max_length=500, blank=True)
    ok = models.BooleanField(help_text="Whether PagerDuty accepted both.")

    class Meta:
        verbose_name = "test event"
        indexes = [
            # The key's page: its latest test events.
            models.Index(fields=["routing_key", "-sent_at"], name="probe_key_sent_at")
        ]

    def __str__(self) -> str:
        return f"test event to {self.routing_key_id} at {self.sent_at:%Y-%m-%d %H:%M:%S}"
