""" "Recent changes": one page across every model with a change history (policies, teams,
channels, routes, silences, maintenance mode, ingest tokens): who changed which object,
which field from what to what, and when. Secrets never reach a history table (channels
keep their credential's masked hint, tokens neither hash nor token); a channel's secret
settings are hidden when shown, so nothing here can show one."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import CharField, Model, QuerySet, Value
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import capfirst
from simple_history.template_utils import (  # type: ignore[import-untyped]
    HistoricalRecordContextHelper,
)

from policies.models.channel import secret_setting_names

PER_PAGE = 25
HIDDEN = "(hidden)"
# Timestamps every save moves: noise in a list of what people changed.
NOT_CHANGES = ["updated_at", "changed_at"]


class ChangeDisplay(HistoricalRecordContextHelper):  # type: ignore[misc]
    """simple-history's display of a change, with booleans as on/off and choices by their
    label: "Enabled: on → off", not "True → False"."""

    def prepare_delta_change_value(self, change: Any, value: Any) -> Any:
        field = self.model._meta.get_field(change.field)
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, dict) and change.field in ("settings", "public_settings"):
            return without_secrets(value)
        choices = dict(getattr(field, "flatchoices", None) or ())
        if isinstance(value, Hashable) and value in choices:  # not a list of alert kinds
            return choices[value]
        return super().prepare_delta_change_value(change, value)


def without_secrets(settings: dict[str, Any]) -> dict[str, Any]:
    """A channel's settings as a page may show them: a secret one (a webhook's extra headers)
    hidden, whatever the record holds."""
    secret = secret_setting_names()
    return {name: HIDDEN if name in secret and value else value for name, value in settings.items()}


def changes_between(record: Any, older: Any) -> list[tuple[str, str, str]]:
    """Each field that changed from `older` to `record`: its label, old value, new value
    (escaped, ready for a template)."""
    delta = record.diff_against(older, excluded_fields=NOT_CHANGES, foreign_keys_are_objs=True)
    shown = ChangeDisplay(record.instance_type, record).context_for_delta_changes(delta)
    return [(c["field"], c["old"], c["new"]) for c in shown]


def audited_models() -> list[type[Model]]:
    """Every model that keeps a change history, by its admin label."""
    models = [
        model
        for model in apps.get_models()
        if getattr(model._meta, "simple_history_manager_attribute", None)
    ]
    return sorted(models, key=lambda m: str(m._meta.verbose_name))


def type_of(model: type[Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


@dataclass(frozen=True)
class Change:
    when: datetime
    who: str
    kind: str  # the object's type, e.g. "Alert policy"
    name: str
    url: str  # the object's history page
    action: str  # created, changed, deleted
    reason: str
    fields: list[tuple[str, str, str]]


def visible_models(request: HttpRequest) -> list[type[Model]]:
    """The audited models whose admin this person may view: a team editor does not read
    the ingest tokens' history any more than their list."""
    registry = admin.site._registry
    return [
        model
        for model in audited_models()
        if model in registry and registry[model].has_view_permission(request)
    ]


def history_rows(models: list[type[Model]], user_id: int | None) -> QuerySet[Any]:
    """(type, history id, date) of every change, newest first: one UNION query, so the page
    is a slice of it whatever the number of tables."""
    parts = []
    for model in models:
        history = getattr(model, model._meta.simple_history_manager_attribute)  # type: ignore[attr-defined]
        query = history.all()
        if user_id is not None:
            query = query.filter(history_user_id=user_id)
        parts.append(
            query.annotate(
                audited_type=Value(type_of(model), output_field=CharField())
            ).values_list("audited_type", "history_id", "history_date")
        )
    first, *others = parts
    combined: QuerySet[Any] = first.union(*others, all=True) if others else first
    return combined.order_by("-history_date", "-history_id")


def describe(model: type[Model], record: Any) -> Change:
    older = record.prev_record
    action = record.get_history_type_display().lower()
    return Change(
        when=record.history_date,
        who=record.history_user.get_username() if record.history_user else "the system",
        kind=capfirst(str(model._meta.verbose_name)),
        name=str(record.instance),
        url=reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_history", args=[record.id]
        ),
        action=action,
        reason=record.history_change_reason or "",
        fields=changes_between(record, older) if older is not None else [],
    )


def changes_on(models: list[type[Model]], page: list[tuple[str, int, datetime]]) -> list[Change]:
    """The page's changes, each with what changed since the version before it: a query per
    type for the records, and one per record for its previous version (PER_PAGE at most)."""
    by_type = {type_of(model): model for model in models}
    records: dict[tuple[str, int], Any] = {}
    for kind, model in by_type.items():
        ids = [history_id for k, history_id, _ in page if k == kind]
        if ids:
            history = getattr(model, model._meta.simple_history_manager_attribute)  # type: ignore[attr-defined]
            for record in history.filter(history_id__in=ids).select_related("history_user"):
                records[(kind, record.history_id)] = record
    return [describe(by_type[kind], records[(kind, hid)]) for kind, hid, _ in page]


def recent_changes_view(request: HttpRequest) -> HttpResponse:
    models = visible_models(request)
    chosen_type = request.GET.get("type", "")
    if chosen_type:
        models = [model for model in models if type_of(model) == chosen_type]
        if not models:
            return HttpResponseBadRequest(f"type: no object type {chosen_type!r} you may see.")
    chosen_user = request.GET.get("user", "")
    if chosen_user and not chosen_user.isdigit():
        return HttpResponseBadRequest("user: a person's id (a number).")
    if not models:
        page = Paginator[Any]([], PER_PAGE).get_page(1)
        changes: list[Change] = []
    else:
        rows = history_rows(models, int(chosen_user) if chosen_user else None)
        page = Paginator(rows, PER_PAGE).get_page(request.GET.get("p"))
        changes = changes_on(models, list(page.object_list))
    people = get_user_model().objects.filter(is_staff=True).order_by("username")
    context = {
        **admin.site.each_context(request),
        "title": "Recent changes",
        "changes": changes,
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number),
        "types": [
            (type_of(m), capfirst(str(m._meta.verbose_name))) for m in visible_models(request)
        ],
        "people": [(str(p.pk), p.get_username()) for p in people],
        "chosen_type": chosen_type,
        "chosen_user": chosen_user,
    }
    return TemplateResponse(request, "admin/recent_changes.html", context)
