from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from alerting_console.history import change_history
from alerting_console.moments import shown
from policies.models.silence import MAX_LENGTH


class Maintenance(models.Model):
    """Maintenance mode for the whole console: policies are evaluated and incidents recorded,
    but nobody is paged. One row; incidents still open when it ends are paged then. It always
    has an end, as a silence has: a forgotten maintenance would mute every page for good."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    enabled = models.BooleanField(
        "maintenance mode on",
        default=False,
        help_text="While on, incidents are recorded but nobody is paged.",
    )
    reason = models.CharField(
        max_length=500, blank=True, help_text="Why, shown on every page while it is on."
    )
    ends_at = models.DateTimeField(
        "ends at",
        null=True,
        blank=True,
        help_text="When it ends by itself (at most 7 days ahead); required to turn it on.",
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
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="maintenance_one_row"),
            models.CheckConstraint(
                condition=models.Q(enabled=False) | models.Q(ends_at__isnull=False),
                name="maintenance_on_has_an_end",
            ),
        ]

    def __str__(self) -> str:
        return "Maintenance mode: on" if self.enabled else "Maintenance mode: off"

    @classmethod
    def current(cls) -> Maintenance:
        """The row, or (before anyone saved it) an unsaved one, off: reading never writes."""
        return cls.objects.filter(pk=1).first() or cls()

    def is_active(self, moment: datetime) -> bool:
        return self.enabled and self.ends_at is not None and moment < self.ends_at

    def clean(self) -> None:
        if not self.enabled:
            return
        now = timezone.now()
        if self.ends_at is None:
            raise ValidationError({"ends_at": "Say when maintenance mode ends (7 days at most)."})
        if self.ends_at <= now:
            raise ValidationError({"ends_at": "The end must be in the future."})
        if self.ends_at - now > MAX_LENGTH:
            raise ValidationError({"ends_at": "Maintenance mode lasts at most 7 days."})

    @classmethod
    def end_if_over(cls, now: datetime) -> bool:
        """Turn maintenance mode off once its end time has passed, saying so in its history.
        Evaluation asks this every tick: the common case is the one query that finds nothing."""
        if not cls.objects.filter(pk=1, enabled=True, ends_at__lte=now).exists():
            return False
        with transaction.atomic():
            over = cls.objects.select_for_update().filter(pk=1, enabled=True, ends_at__lte=now)
            maintenance = over.first()
            if maintenance is None:
                return False
            maintenance.enabled = False
            maintenance.changed_by = None
            maintenance._change_reason = (  # type: ignore[attr-defined] # read by the history
                f"ended by itself at its end time, {shown(maintenance.ends_at or now)}"
            )
            maintenance.save()
        return True
