from __future__ import annotations

from django.conf import settings
from django.db import models

from alerting_console.history import change_history


class Maintenance(models.Model):
    """Maintenance mode for the whole console: policies are evaluated and incidents recorded,
    but nobody is paged. One row; incidents still open when it ends are paged then."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    enabled = models.BooleanField(
        "maintenance mode on",
        default=False,
        help_text="While on, incidents are recorded but nobody is paged.",
    )
    reason = models.CharField(
        max_length=500, blank=True, help_text="Why, shown on every page while it is on."
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        help_text="Who last turned it on or off.",
    )
    changed_at = models.DateTimeField(auto_now=True, help_text="When it was last changed.")

    history = change_history()

    class Meta:
        verbose_name = "maintenance mode"
        verbose_name_plural = "maintenance mode"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="maintenance_one_row")]

    def __str__(self) -> str:
        return "Maintenance mode: on" if self.enabled else "Maintenance mode: off"

    @classmethod
    def current(cls) -> Maintenance:
        return cls.objects.filter(pk=1).first() or cls()
