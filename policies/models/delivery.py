from __future__ import annotations

from django.db import models
from django.db.models import Q


class Delivery(models.Model):
    """One message to one channel: the outbox. Written by the dispatch step
    (``policies.dispatch``) in the same transaction as the incident's transition; a worker
    sends it after the commit, and retries it until it is delivered, refused for good, or out
    of time. Each channel's deliveries go their own way: one channel down delays no other."""

    class Action(models.TextChoices):
        TRIGGER = "trigger", "Trigger"
        RENOTIFY = "renotify", "Renotify"
        UPDATE = "update", "Severity changed"
        RESOLVE = "resolve", "Resolve"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        REFUSED = "refused", "Refused (permanent)"
        GAVE_UP = "gave_up", "Gave up after retrying"
        NO_ROUTE = "no_route", "No route: nobody to notify"
        MUTED = "muted", "Muted: not sent"
        SKIPPED = "skipped", "Skipped"

    # The actions that page, or change a page: what "was it paged?" is asked of, and what a
    # resolve cancels when not sent yet.
    PAGES = (Action.TRIGGER, Action.RENOTIFY, Action.UPDATE)

    incident = models.ForeignKey(
        "policies.Incident", on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.ForeignKey(
        "policies.Channel",
        on_delete=models.PROTECT,  # its resolve must go where its trigger went
        null=True,
        blank=True,
        related_name="deliveries",
        help_text="Where it goes; empty only for “no route”.",
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(help_text="When the state change asked for it.")
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker should try it (next)."
    )
    attempts = models.PositiveIntegerField(
        default=0, help_text="Calls to PagerDuty started, counted when a worker claims it."
    )
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was delivered, refused or given up on."
    )
    last_error = models.CharField(max_length=500, blank=True)
    reference = models.CharField(
        max_length=200,
        blank=True,
        help_text="What the service gave back to address the message later (a Slack ts, a "
        "Discord message id, an e-mail Message-ID): this incident's later messages on this "
        "channel thread or edit it.",
    )

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        indexes = [
            # The sweeper: pending deliveries that are due (policies.tasks.deliver_due).
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_due"
            ),
            # Delivery health on the home page: the few rows not delivered, never the rest.
            models.Index(
                fields=["status"],
                condition=Q(status__in=["pending", "gave_up", "refused"]),
                name="delivery_not_delivered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of incident {self.incident_id}: {self.status}"

    @property
    def may_be_sent(self) -> bool:
        return self.status == self.Status.PENDING


class DeliveryAttempt(models.Model):
    """One call to a channel's service, whatever came of it."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts_made")
    at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        outcome = self.http_status or self.error
        return f"{self.at:%Y-%m-%d %H:%M:%S} → {outcome}"
