"""The console's internals, under one "System" section for ops admins only: what the engine
keeps for itself (heartbeats, evaluation states) and the login lockout's tables."""

from __future__ import annotations

from typing import Any

import axes.admin  # registers its admin classes now, so that they can be replaced below
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from policies.admin.incident import ReadOnly
from policies.models import Heartbeat, PolicyState
from policies.roles import is_ops_admin

SECTION = "System"


class OpsAdminsOnly:
    """Shown to and opened by ops admins alone: the role decides, not model permissions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_ops_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return is_ops_admin(request.user)


class LockoutsForOpsAdmins(OpsAdminsOnly):
    """Deleting a failed-login record lifts its lockout: ops admins may."""

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return is_ops_admin(request.user)


@admin.register(PolicyState)
class PolicyStateAdmin(OpsAdminsOnly, ReadOnly, admin.ModelAdmin[PolicyState]):
    list_display = ["policy", "evaluated_at"]
    list_select_related = ["policy"]
    search_fields = ["policy__name"]
    fields = readonly_fields = ("policy", "evaluated_at", "pending")


@admin.register(Heartbeat)
class HeartbeatAdmin(OpsAdminsOnly, ReadOnly, admin.ModelAdmin[Heartbeat]):
    list_display = ["name", "at", "duration_seconds"]


def _ops_admins_only(model: type[Model], admin_class: type[Any]) -> None:
    admin.site.unregister(model)
    admin.site.register(model, type(admin_class.__name__, (LockoutsForOpsAdmins, admin_class), {}))


_ops_admins_only(AccessAttempt, axes.admin.AccessAttemptAdmin)
_ops_admins_only(AccessLog, axes.admin.AccessLogAdmin)
_ops_admins_only(AccessFailureLog, axes.admin.AccessFailureLogAdmin)

# (app label, model name) of what the index lists under SECTION.
SYSTEM_MODELS = frozenset(
    {
        ("policies", "heartbeat"),
        ("policies", "policystate"),
        ("axes", "accessattempt"),
        ("axes", "accesslog"),
        ("axes", "accessfailurelog"),
    }
)
