"""What the console's admin classes share: row-level team checks and the change history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from simple_history.admin import SimpleHistoryAdmin  # type: ignore[import-untyped]

from alerting_console.moments import shown
from policies.admin.audit import ChangeDisplay, changes_between
from policies.roles import may_change_team_row, own_team_ids

M = TypeVar("M", bound=Model)

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin as _AdminBase
else:

    class _AdminBase(Generic[M]):
        """At run time the mixin sits before the real admin class in the bases."""


# Read-only timestamps have no help text of their own; their fieldset explains them.
RECORD_DESCRIPTION = "When this was created and last changed. “History” shows who changed what."

NOT_YOUR_TEAM = "You may only change rows of your own teams; ask an ops admin for the others."


class TeamScoped(_AdminBase[M]):
    """Row-level rights for team editors: they may change or delete only rows of the teams
    they edit, and may not save a row into another team. Ops admins are not restricted.

    Checked on the change page, on save (the form refuses it), on delete, and by
    ``check_rows`` in every bulk action; the model permissions still apply first.
    """

    # Foreign keys whose choices a team editor sees narrowed to their teams' rows: the field,
    # and the related model's path to its team ("pk" when it is a team).
    own_team_choices: ClassVar[dict[str, str]] = {}
    # Of those, the ones a team editor must fill in (empty would mean: no team, everyone's).
    own_team_required: ClassVar[tuple[str, ...]] = ()

    def teams_of(self, obj: M) -> set[int | None]:
        raise NotImplementedError

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        own = own_team_ids(request.user)
        path = self.own_team_choices.get(db_field.name)
        if own is not None and path is not None:
            related = db_field.related_model._default_manager
            kwargs["queryset"] = related.filter(**{f"{path}__in": own})
            if db_field.name in self.own_team_required:
                kwargs["required"] = True
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        own = own_team_ids(request.user)
        path = self.own_team_choices.get(db_field.name)
        if own is not None and path is not None:
            related = db_field.related_model._default_manager
            kwargs["queryset"] = related.filter(**{f"{path}__in": own})
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        allowed = bool(super().has_change_permission(request, obj))
        return allowed and (obj is None or may_change_team_row(request.user, self.teams_of(obj)))

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        allowed = bool(super().has_delete_permission(request, obj))
        return allowed and (obj is None or may_change_team_row(request.user, self.teams_of(obj)))

    def get_form(
        self, request: HttpRequest, obj: M | None = None, change: bool = False, **kwargs: Any
    ) -> type[ModelForm[M]]:
        form: type[ModelForm[M]] = super().get_form(request, obj, change, **kwargs)
        if own_team_ids(request.user) is None:
            return form
        teams_of = self.teams_of
        user = request.user

        class OwnTeamsOnly(form):  # type: ignore[valid-type,misc]
            def _post_clean(self) -> None:
                super()._post_clean()
                if not may_change_team_row(user, teams_of(self.instance)):
                    self.add_error(None, NOT_YOUR_TEAM)

        return OwnTeamsOnly

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        # The form refuses it first; this is the backstop should a form ever skip the check.
        if not may_change_team_row(request.user, self.teams_of(obj)):
            raise PermissionDenied(NOT_YOUR_TEAM)
        super().save_model(request, obj, form, change)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[M]) -> None:
        self.check_rows(request, queryset)
        super().delete_queryset(request, queryset)

    def check_rows(self, request: HttpRequest, queryset: QuerySet[M]) -> None:
        """Refuse a bulk action outright if any selected row is another team's."""
        if own_team_ids(request.user) is None:
            return
        for obj in queryset:
            if not may_change_team_row(request.user, self.teams_of(obj)):
                raise PermissionDenied(f"{obj}: {NOT_YOUR_TEAM}")


class NoSecretLookups:
    """Django's admin filters a list by any lookup on the model's own fields given in the
    query string (``?integration_key__startswith=R0``), filters or not: the row count would
    tell a guess right from wrong, one character at a time. Secret fields are refused."""

    secret_fields: tuple[str, ...] = ()

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if lookup.split("__", 1)[0] in self.secret_fields:
            return False
        return bool(super().lookup_allowed(lookup, value, request))  # type: ignore[misc]


if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _HistoryBase = ModelAdmin[Any]
else:
    _HistoryBase = SimpleHistoryAdmin


class History(_HistoryBase):
    """Django's admin with the change history (who changed which field, from what to what)
    behind the "History" button, and the latest changes on the object's own page."""

    history_list_per_page = 50
    object_history_list_template = "admin/history_list.html"  # no empty "reason" column

    def get_historical_record_context_helper(self, request: HttpRequest, record: Any) -> Any:
        return ChangeDisplay(self.model, record)  # booleans as on/off, choices by label

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # No "delete" button next to a choice of team, policy or key: one click away from
        # deleting a team in the middle of writing a silence is a trap, not a shortcut.
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        widget = getattr(formfield, "widget", None)
        if isinstance(widget, RelatedFieldWidgetWrapper):
            widget.can_delete_related = False
        return formfield

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Old versions are for reading. The library would save a posted one after checking
        # only the right to *view* history, and a channel's old versions have no credential.
        if request.method != "GET":
            raise PermissionDenied("Old versions cannot be restored; change the object instead.")
        response: HttpResponse = SimpleHistoryAdmin.history_form_view(
            self, request, object_id, version_id, extra_context
        )
        return response

    def recent_changes(self, obj: Model) -> SafeString:
        if obj.pk is None:
            return format_html("{}", "—")
        records = list(obj.history.all()[:6])  # type: ignore[attr-defined]
        rows = []
        for record, older in zip(records, [*records[1:], None], strict=True):
            who = record.history_user.get_username() if record.history_user else "the system"
            when = shown(record.history_date)
            what: str = record.get_history_type_display().lower()
            if older is not None:
                # Escaped by simple-history's display: joined as safe text, not escaped twice.
                what = format_html_join("; ", "{}: {} → {}", changes_between(record, older))
            if record.history_change_reason:
                what = format_html("{} ({})", what or "saved", record.history_change_reason)
            rows.append((when, who, what or "saved"))
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} {}: {}</li>", rows[:5]))

    recent_changes.short_description = "recent changes"  # type: ignore[attr-defined]


def preview_table(rows: list[tuple[str, str]]) -> SafeString:
    """A routing preview: what, and who it would page."""
    return format_html(
        '<ul class="routing-preview">{}</ul>',
        format_html_join("", "<li>{}: <strong>{}</strong></li>", rows),
    )
