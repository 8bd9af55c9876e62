"""Alert policies in the admin: the form groups and explains the rule; actions count changes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse_lazy
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import format_lazy

from policies import kinds
from policies.admin.common import RECORD_DESCRIPTION, History, TeamScoped, preview_table
from policies.models import AlertPolicy, PolicyKind
from policies.routing import preview_for_policy

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts, _FieldsetSpec


def kind_form_spec() -> dict[str, dict[str, Any]]:
    """Per kind (policies/kinds/): the fields only some kinds use that it uses, its defaults,
    and the fields that must be left empty by the kinds that do not use them."""
    # Parameters of some kinds only, which the model refuses on the others.
    parameters = list(dict.fromkeys(f for k in kinds.KINDS.values() for f in k.parameters))
    spec: dict[str, dict[str, Any]] = {}
    for kind in kinds.KINDS.values():
        defaults = kind.defaults
        values: dict[str, float | str] = {
            "threshold": defaults.threshold,
            "window_seconds": defaults.window_seconds,
            "group_by": defaults.group_by,
            "severity": defaults.severity,
        }
        if defaults.duration_seconds is not None:
            values["duration_seconds"] = defaults.duration_seconds
        if defaults.critical_threshold is not None:
            values["critical_threshold"] = defaults.critical_threshold
        values.update({name: str(value) for name, value in defaults.parameters})
        spec[kind.name] = {
            "fields": _own_fields(kind),
            "defaults": values,
            "empty_otherwise": parameters,
            # Budgets keep their first warning level as X: not a field of theirs.
            "hides": [] if kind.uses_threshold else ["threshold"],
        }
    return spec


def _own_fields(kind: kinds.Kind) -> list[str]:
    """The fields of the form that only some kinds use, that this kind uses."""
    fields = [*kind.needs, *kind.accepts]
    if kind.uses_min_requests:
        fields.append("min_requests")
    if kind.critical_field:
        fields.append(kind.critical_field)
    if kind.counts_failures:
        fields += ["count_gateway_rejections", "count_client_errors"]
    return fields


def _plural(n: int) -> str:
    return f"{n} policy" if n == 1 else f"{n} policies"


@admin.register(AlertPolicy)
class AlertPolicyAdmin(TeamScoped[AlertPolicy], History):
    list_display = ["name", "kind", "rule", "group_by", "filter_team", "severity", "enabled"]
    list_filter = ["enabled", "kind", "severity", "group_by", "filter_team"]
    list_select_related = ["filter_team"]
    search_fields = [
        "name",
        "description",
        "filter_key_alias",
        "filter_model",
        "filter_team__name",
    ]
    radio_fields = {"kind": admin.VERTICAL}
    readonly_fields = ["would_page", "created_at", "updated_at", "recent_changes"]
    # A runbook link typed without a scheme is https (Django 6's default; silences its warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["enable_policies", "disable_policies"]
    own_team_choices = {"filter_team": "pk"}
    own_team_required = ("filter_team",)  # a policy of no team is everyone's: ops admins only

    def get_fieldsets(self, request: HttpRequest, obj: AlertPolicy | None = None) -> _FieldsetSpec:
        counted: _FieldOpts = {
            "fields": [
                "name",
                "kind",
                "threshold",
                "window_seconds",
                "duration_seconds",
                "failure_rate_percent",
                "percentile",
                "budget",
                "budget_unit",
                "budget_period",
                "budget_time_zone",
                "budget_warning_percents",
                "min_requests",
                "critical_threshold",
                "critical_failure_rate_percent",
                "critical_duration_seconds",
                "count_gateway_rejections",
                "count_client_errors",
            ]
        }
        # The kinds' fields and defaults, for the script that shows only the chosen kind's.
        spec = format_html(
            '<span id="policy-kinds" data-kinds="{}" hidden></span>',
            json.dumps(kind_form_spec()),
        )
        counted["description"] = (
            format_html("{} {}", self._defaults_links(), spec) if obj is None else spec
        )
        return [
            ("What is counted", counted),
            (
                "Scope",
                {
                    "fields": ["group_by", "filter_team", "filter_key_alias", "filter_model"],
                    "description": "Which requests are counted, and whether they are counted "
                    "together or per group. Empty filters count everything.",
                },
            ),
            (
                "When to open and resolve",
                {
                    "fields": [
                        "consecutive_breaches",
                        "resolve_threshold",
                        "resolve_hold_seconds",
                        "renotify_seconds",
                    ],
                    "description": "Guards against flapping: how long a breach must last before "
                    "anyone is paged, and how long the problem must stay away before the "
                    "incident resolves.",
                },
            ),
            ("The page", {"fields": ["severity", "runbook_url", "description"]}),
            (
                "Who is paged",
                {
                    "fields": ["would_page"],
                    "description": format_lazy(
                        'Worked out from the routes now; nothing is sent. <a href="{}">Who would '
                        "be paged for …?</a>",
                        reverse_lazy("admin:policies_route_test"),
                    ),
                },
            ),
            (
                "State",
                {
                    "fields": ["enabled", "created_at", "updated_at", "recent_changes"],
                    "description": RECORD_DESCRIPTION,
                },
            ),
        ]

    @admin.display(description="its incidents would page")
    def would_page(self, policy: AlertPolicy) -> SafeString:
        if policy.pk is None:
            return format_html("{}", "— (save the policy first)")
        return preview_table(preview_for_policy(policy))

    def teams_of(self, obj: AlertPolicy) -> set[int | None]:
        return {obj.filter_team_id}

    def _defaults_links(self) -> str:
        links = format_html_join(
            ", ",
            '<a href="?kind={}" data-policy-defaults="{}">{}</a>',
            ((name, name, name) for name in kinds.KINDS),
        )
        return format_html(
            "Start from LiteLLM's defaults for {}: fills in X, Y, T and the levels, keeping what "
            "you typed.",
            links,
        )

    class Media:
        js = ["policies/policy_form.js"]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, str | list[str]]:
        """``?kind=hung`` pre-fills X, Y and T with that kind's defaults."""
        initial = super().get_changeform_initial_data(request)
        requested = request.GET.get("kind", "")
        kind = kinds.KINDS.get(requested) or kinds.get(PolicyKind.FAILURES)
        defaults = kind.defaults
        initial["kind"] = kind.name
        initial.setdefault("threshold", str(defaults.threshold))
        initial.setdefault("window_seconds", str(defaults.window_seconds))
        if defaults.duration_seconds is not None:
            initial.setdefault("duration_seconds", f"{defaults.duration_seconds:g}")
        if defaults.critical_threshold is not None:
            initial.setdefault("critical_threshold", str(defaults.critical_threshold))
        for name, value in defaults.parameters:
            initial.setdefault(name, str(value))
        initial.setdefault("group_by", defaults.group_by)
        initial.setdefault("severity", defaults.severity)
        return initial

    @admin.display(description="rule")
    def rule(self, policy: AlertPolicy) -> str:
        return policy.describe()

    @admin.action(description="Enable selected policies", permissions=["change"])
    def enable_policies(self, request: HttpRequest, queryset: QuerySet[AlertPolicy]) -> None:
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable selected policies", permissions=["change"])
    def disable_policies(self, request: HttpRequest, queryset: QuerySet[AlertPolicy]) -> None:
        self._set_enabled(request, queryset, enabled=False)

    def _set_enabled(
        self, request: HttpRequest, queryset: QuerySet[AlertPolicy], *, enabled: bool
    ) -> None:
        self.check_rows(request, queryset)
        # Only rows whose value changes are counted and logged; locked so that two people
        # clicking at once do not both report (and log) the same change. Saved one by one,
        # so that the change history records each.
        with transaction.atomic():
            changing = list(queryset.filter(enabled=not enabled).select_for_update(of=("self",)))
            for policy in changing:
                policy.enabled = enabled
                policy.save(update_fields=["enabled", "updated_at"])
                self.log_change(request, policy, [{"changed": {"fields": ["Enabled"]}}])
        verb = "enabled" if enabled else "disabled"
        unchanged = queryset.count() - len(changing)
        message = f"{_plural(len(changing))} {verb}."
        if unchanged:
            message += f" {_plural(unchanged)} already {'was' if unchanged == 1 else 'were'}."
        self.message_user(request, message, messages.SUCCESS if changing else messages.INFO)
