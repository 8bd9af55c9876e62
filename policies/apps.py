from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_save


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Alerting"

    def ready(self) -> None:
        from policies.models import Maintenance, Silence

        # However a silence or maintenance mode is made (admin, apply_config, a shell), the
        # pages it mutes that are still waiting are held back once it is saved.
        for model in (Silence, Maintenance):
            post_save.connect(_mutes_changed, sender=model, dispatch_uid=f"mutes:{model.__name__}")


def _mutes_changed(**kwargs: Any) -> None:
    from django.utils import timezone

    from policies.dispatch import hold_back_muted

    transaction.on_commit(lambda: hold_back_muted(timezone.now()), robust=True)
