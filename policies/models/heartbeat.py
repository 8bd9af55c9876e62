from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """When a periodic job last ran, for /readyz: beat ticked, and a worker ran the tick."""

    name = models.CharField(max_length=50, primary_key=True, help_text="The periodic job.")
    at = models.DateTimeField(help_text="When it last ran.")
    duration_seconds = models.FloatField(default=0, help_text="How long its last run took.")

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
