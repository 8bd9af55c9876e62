"""Alert history: incidents, what happened to them, and every delivery attempt. Read-only:
history is written by the engine, not edited by people."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, Max, Model, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from alerting_console.moments import shown
from ingest.models import GatewayRequest
from policies.admin.incident_page import first_screen
from policies.dispatch import never_paged, paged_channels
from policies.models import (
    Delivery,
    DeliveryAttempt,
    Incident,
    IncidentEvent,
    IncidentStatus,
)
from policies.muting import subject_of
from policies.page_state import PAGES_ATTR, latest_pages, page_badge, state_of, with_pages
from policies.recording import resolve
from policies.retry import retry_now
from policies.roles import own_team_ids


class ReadOnly:
    """Mixed into admin classes whose rows only the engine writes."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class DeliveryInline(ReadOnly, admin.TabularInline[Delivery, Incident]):
    model = Delivery
    fields = readonly_fields = (
        "action",
        "status",
        "attempts",
        "created_at",
        "finished_at",
        "last_error",
    )
    extra = 0
    show_change_link = True


SUMMARY_SHOWN = 100  # characters of an incident's summary in the list: two lines at most


class MutedFilter(admin.SimpleListFilter):
    title = "muted"
    parameter_name = "muted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Silenced or in maintenance"), ("no", "Not muted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return never_paged(queryset)
        if self.value() == "no":
            return queryset.exclude(pk__in=never_paged(Incident.objects.all()).values("pk"))
        return queryset


@admin.register(Incident)
class IncidentAdmin(ReadOnly, admin.ModelAdmin[Incident]):
    # Fits a 1366-pixel screen beside the filters: the summary shortened (whole on hover and
    # on the page), what the incident is about in one column, the policy named by the summary.
    list_display = [
        "short_summary", "status", "page", "about", "severity", "routed_to", "detected_at",
        "resolved_at",
    ]  # fmt: skip
    list_filter = [
        "status",
        MutedFilter,
        "severity",
        "policy__kind",
        "policy",
        "team",
        ("key_alias", admin.AllValuesFieldListFilter),
        ("model", admin.AllValuesFieldListFilter),
        "detected_at",
    ]
    list_select_related = ["policy", "team"]
    search_fields = [
        "dedup_key", "summary", "group_key", "key_alias", "model", "details__sample_request_ids",
    ]  # fmt: skip
    search_help_text = "Search by dedup key, summary, group, key alias, model or a request id."
    date_hierarchy = "detected_at"
    inlines = [DeliveryInline]
    actions = ["resolve_incidents"]
    fieldsets = [
        # Summary, status and page state lead the page, above these (incident_page.py).
        (None, {"fields": ["timeline"]}),
        (
            "What tripped it",
            {
                "fields": [
                    "policy",
                    "thresholds",
                    "group_key",
                    "trigger_count",
                    "peak_count",
                    "last_count",
                    "top_errors",
                    "busiest",
                    "sample_requests",
                ]
            },
        ),
        (
            "Times",
            {
                "fields": [
                    "started_at",
                    "detected_at",
                    "noticed_at",
                    "resolved_at",
                    "resolved_by",
                    "clear_since",
                ]
            },
        ),
        (
            "PagerDuty",
            {
                "fields": [
                    "routed_to",
                    "severity",
                    "team",
                    "key_alias",
                    "model",
                    "dedup_key",
                    "paged_at",
                ]
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        return with_pages(super().get_queryset(request))

    @admin.display(description="summary", ordering="summary")
    def short_summary(self, incident: Incident) -> SafeString:
        text = incident.summary
        short = text if len(text) <= SUMMARY_SHOWN else text[: SUMMARY_SHOWN - 1] + "…"
        return format_html('<span title="{}">{}</span>', text, short)

    @admin.display(description="about")
    def about(self, incident: Incident) -> str:
        """What the incident is surely about: its team, key alias and model, where known."""
        parts = [
            f"{label} {value}"
            for label, value in (
                ("team", incident.team),
                ("key", incident.key_alias),
                ("model", incident.model),
            )
            if value
        ]
        return " · ".join(parts) or "everything"

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # The list once filtered on a "paged" column (false: muted), now derived from the
        # deliveries: bookmarks of that filter get the same rows from "muted".
        old = request.GET.get("paged__exact")
        if old in ("0", "1"):
            query = request.GET.copy()
            del query["paged__exact"]
            query["muted"] = "no" if old == "1" else "yes"
            return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        return super().changelist_view(request, extra_context)

    @admin.display(description="page")
    def page(self, incident: Incident) -> SafeString:
        """What happened to its page, from its deliveries: not "paged" for "not muted"."""
        return page_badge(state_of(incident))

    @admin.display(description="page")
    def page_in_full(self, incident: Incident) -> SafeString:
        state = state_of(incident)
        return format_html("{} {}", page_badge(state), state.detail)

    @admin.display(description="last paged at")
    def paged_at(self, incident: Incident) -> str:
        delivered = incident.deliveries.filter(
            action__in=Delivery.PAGES, status=Delivery.Status.DELIVERED
        ).aggregate(at=Max("finished_at"))["at"]
        return shown(delivered) if delivered else "never: no channel accepted a page of it"

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        # Open incidents first, newest first within each; not by the status's spelling.
        still_open = Case(When(status=IncidentStatus.OPEN, then=Value(0)), default=Value(1))
        return [still_open.asc(), "-detected_at", "-pk"]

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("policies.change_incident"))

    @admin.display(description="timeline")
    def timeline(self, incident: Incident) -> SafeString:
        """Opened, count changes, every delivery attempt with its service's answer, renotifies,
        silences, and the resolve (and by whom), in order."""
        entries: list[tuple[datetime, str, str, str]] = []
        attempts = attempts_by_ordinal(incident)
        for event in incident.events.select_related("user"):
            who = f" ({event.user.get_username()})" if event.user else ""
            decided_on = _attempt_of(event)
            attempt = attempts.pop(decided_on, None) if decided_on else None
            if attempt is None:
                entries.append((event.at, event.get_kind_display(), event.message + who, ""))
                continue
            # One row per attempt: what the service answered, and what was decided of it.
            answer = f"HTTP {attempt.http_status}" if attempt.http_status else "no answer"
            entries.append(
                (
                    event.at,
                    _sent(attempt.delivery),
                    f"{answer} in {attempt.duration_ms} ms. {event.message}",
                    reverse("admin:policies_delivery_change", args=[attempt.delivery_id]),
                )
            )
        for attempt in attempts.values():  # no decision recorded (its worker died)
            answer = f"HTTP {attempt.http_status}" if attempt.http_status else "no answer"
            said = attempt.response_excerpt or attempt.error
            entries.append(
                (
                    attempt.at,
                    _sent(attempt.delivery),
                    f"{answer}{': ' + said if said else ''} ({attempt.duration_ms} ms)",
                    reverse("admin:policies_delivery_change", args=[attempt.delivery_id]),
                )
            )
        entries.sort(key=lambda entry: entry[0])
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    shown(at),
                    format_html('<a href="{}">{}</a>', link, kind) if link else kind,
                    message,
                )
                for at, kind, message, link in entries
            ),
        )
        return format_html('<table id="incident-timeline"><tbody>{}</tbody></table>', rows)

    @admin.display(description="thresholds when it opened")
    def thresholds(self, incident: Incident) -> str:
        snapshot = incident.policy_snapshot or {}
        return str(snapshot.get("rule") or "—")

    @admin.display(description="top errors")
    def top_errors(self, incident: Incident) -> SafeString:
        errors = (incident.details or {}).get("top_errors") or []
        if not errors:
            return format_html("{}", "—")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} {}: {}</li>",
                (
                    (e.get("error_class") or "no class", e.get("status_code") or "", e.get("count"))
                    for e in errors
                ),
            ),
        )

    @admin.display(description="most of its requests came from")
    def busiest(self, incident: Incident) -> str:
        """Information for the responder, not the owner: the incident is routed and muted by
        its team, key alias and model above, which are only what it is surely about."""
        details = incident.details or {}
        parts = [
            f"{label} {details[key]}"
            for label, key in (
                ("team", "busiest_team"),
                ("key alias", "busiest_key_alias"),
                ("model", "busiest_model"),
            )
            if details.get(key)
        ]
        return ", ".join(parts) or "—"

    @admin.display(description="sample requests")
    def sample_requests(self, incident: Incident) -> SafeString:
        """The sampled requests in the order they happened, each linked to its row."""
        ids = [str(i) for i in (incident.details or {}).get("sample_request_ids") or []]
        if not ids:
            return format_html("{}", "—")
        rows = {
            request_id: (pk, at)
            for request_id, pk, at in GatewayRequest.objects.filter(request_id__in=ids)
            .annotate(at=Coalesce("finished_at", "started_at"))
            .values_list("request_id", "pk", "at")
        }
        kept = sorted(
            (i for i in ids if i in rows),
            key=lambda i: rows[i][1].timestamp() if rows[i][1] else float("inf"),
        )
        links = [
            format_html(
                '{} <a href="{}">{}</a>',
                shown(rows[i][1]) if rows[i][1] else "not finished",
                reverse("admin:ingest_gatewayrequest_change", args=[rows[i][0]]),
                i,
            )
            for i in kept
        ] + [format_html("{} (pruned)", i) for i in ids if i not in rows]
        return format_html(
            '<ul id="sample-requests">{}</ul>',
            format_html_join("", "<li>{}</li>", ((link,) for link in links)),
        )

    @admin.action(
        description="Resolve selected incidents (and send the resolve)",
        permissions=["resolve"],
    )
    def resolve_incidents(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        for selected in queryset.select_related("policy"):
            self.check_may_act(request, selected)
        now = timezone.now()
        open_ones = queryset.filter(status=IncidentStatus.OPEN).values_list("pk", flat=True)
        resolved = sum(resolve_by_hand(request, pk, now) for pk in open_ones)
        self.message_user(request, f"{resolved} incident{'s' if resolved != 1 else ''} resolved.")

    def may_act(self, request: HttpRequest, incident: Incident) -> bool:
        """Resolve it, retry its page: the incident "change" permission, and for a team
        editor, the incident's team as known for sure (its group, or its policy's team): not
        the team most of its requests came from, which for a platform-wide one is a guess."""
        if not self.has_resolve_permission(request):
            return False
        own = own_team_ids(request.user)
        return own is None or subject_of(incident).team_id in own

    def check_may_act(self, request: HttpRequest, incident: Incident) -> None:
        if not self.may_act(request, incident):
            raise PermissionDenied("You may only act on your own teams' incidents.")

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="policies_incident_resolve",
            ),
            path(
                "<path:object_id>/retry/",
                self.admin_site.admin_view(require_POST(self.retry_view)),
                name="policies_incident_retry",
            ),
        ]
        return [*own, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        incident = self.get_object(request, unquote(object_id))
        if incident is not None and self.has_view_permission(request, incident):
            screen = first_screen(incident, timezone.now(), self.may_act(request, incident))
            screen["may_silence"] = request.user.has_perm("policies.add_silence")
            screen["page_in_full"] = self.page_in_full(incident)
            extra_context = {**(extra_context or {}), **screen}
        return super().change_view(request, object_id, form_url, extra_context)

    def _incident_for(self, request: HttpRequest, object_id: str) -> Incident:
        incident = self.get_object(request, unquote(object_id))
        if incident is None:
            raise Http404("No such incident.")
        self.check_may_act(request, incident)
        return incident

    def resolve_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Resolve, with a confirmation: a GET asks, a POST resolves and records who."""
        incident = self._incident_for(request, object_id)
        back = reverse("admin:policies_incident_change", args=[incident.pk])
        if incident.status != IncidentStatus.OPEN:
            by = f" by {incident.resolved_by.get_username()}" if incident.resolved_by else ""
            when = shown(incident.resolved_at) if incident.resolved_at else "?"
            self.message_user(
                request, f"Already resolved{by} at {when}: nothing done.", messages.WARNING
            )
            return HttpResponseRedirect(back)
        if request.method == "POST":
            if resolve_by_hand(request, incident.pk, timezone.now()):
                self.message_user(request, resolved_message(incident.pk), messages.SUCCESS)
            else:
                self.message_user(request, "It resolved meanwhile: nothing done.", messages.WARNING)
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Resolve this incident?",
            "incident": incident,
            "page_state": state_of(incident),
            "sent_to": paged_channels(incident),
            "back": back,
        }
        return TemplateResponse(request, "admin/policies/incident/resolve.html", context)

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Retry delivery now: the incident's waiting pages go to a worker at once."""
        incident = self._incident_for(request, object_id)
        handed, busy = retry_now(incident.pk, timezone.now())
        for delivery in handed:
            plural = "s" if delivery.attempts != 1 else ""
            tried = f"after {delivery.attempts} failed attempt{plural}"
            self.message_user(
                request,
                f"The {delivery.get_action_display().lower()} was handed to a worker now "
                f"({tried if delivery.attempts else 'not tried before'}): its outcome shows "
                "in the timeline and the page state in a few seconds.",
                messages.SUCCESS,
            )
        for delivery in busy:
            self.message_user(
                request,
                f"The {delivery.get_action_display().lower()} is being sent right now: "
                "left alone, so that it is not sent twice.",
                messages.WARNING,
            )
        if not handed and not busy:
            self.message_user(
                request,
                "Nothing to retry: no page of this incident is waiting to be sent.",
                messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:policies_incident_change", args=[incident.pk]))

    @admin.display(description="routed to")
    def routed_to(self, incident: Incident) -> str:
        names = [
            page.channel
            for page in latest_pages(
                getattr(incident, PAGES_ATTR, None)
                or incident.deliveries.filter(action__in=Delivery.PAGES).select_related("channel")
            )
        ]
        return ", ".join(name for name in names if name) or "no route"


class DeliveryAttemptInline(ReadOnly, admin.TabularInline[DeliveryAttempt, Delivery]):
    model = DeliveryAttempt
    fields = readonly_fields = ("at", "http_status", "duration_ms", "response_excerpt", "error")
    extra = 0


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly, admin.ModelAdmin[Delivery]):
    list_display = ["incident", "action", "status", "attempts", "created_at", "finished_at"]
    list_filter = ["status", "action"]
    list_select_related = ["incident"]
    search_fields = ["incident__dedup_key", "incident__summary"]
    date_hierarchy = "created_at"
    inlines = [DeliveryAttemptInline]
    fields = readonly_fields = (
        "incident", "action", "status", "attempts", "created_at", "next_attempt_at",
        "finished_at", "last_error",
    )  # fmt: skip


def _sent(delivery: Delivery) -> str:
    where = f" to {delivery.channel.name}" if delivery.channel else ""
    return f"{delivery.get_action_display()} sent{where}"


def attempts_by_ordinal(incident: Incident) -> dict[tuple[int, int], DeliveryAttempt]:
    """Each delivery's attempts by (delivery, 1 for its first attempt, 2, ...)."""
    attempts = (
        DeliveryAttempt.objects.filter(delivery__incident=incident)
        .select_related("delivery__channel")
        .order_by("delivery_id", "at", "pk")
    )
    numbered: dict[tuple[int, int], DeliveryAttempt] = {}
    counts: Counter[int] = Counter()
    for attempt in attempts:
        counts[attempt.delivery_id] += 1
        numbered[(attempt.delivery_id, counts[attempt.delivery_id])] = attempt
    return numbered


def _attempt_of(event: IncidentEvent) -> tuple[int, int] | None:
    """The (delivery, attempt) a delivery event decided on: it records both in its data."""
    data = event.data or {}
    if event.kind != IncidentEvent.Kind.DELIVERY or "delivery" not in data:
        return None
    return int(data["delivery"]), int(data.get("attempts") or 0)


def resolve_by_hand(request: HttpRequest, pk: int, now: datetime) -> bool:
    """Resolve the incident if it is still open (the engine may have resolved it meanwhile),
    recording who did."""
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update().filter(pk=pk, status=IncidentStatus.OPEN).first()
        )
        if incident is None:
            return False
        who = request.user.get_username()
        resolve(incident, now, f"Resolved by hand by {who}.", user=request.user)
        return True


def resolved_message(pk: int) -> str:
    """What the resolve did about PagerDuty: its last timeline line says."""
    said = IncidentEvent.objects.filter(incident_id=pk, kind=IncidentEvent.Kind.RESOLVED).last()
    return f"Incident resolved. {said.message if said else ''}".strip()
