"""The test event's pages: a confirmation that says what will be sent and to which key
(masked) before anyone is paged, and afterwards the bodies sent next to PagerDuty's answers."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from policies.models import Probe, RoutingKey
from policies.probe import ProbeResult, preview, send_probe


def result_url(probe: Probe) -> str:
    return reverse(
        "admin:policies_routingkey_test_event_result", args=[probe.routing_key_id, probe.pk]
    )


def confirm_page(
    model_admin: admin.ModelAdmin[RoutingKey],
    request: HttpRequest,
    keys: list[RoutingKey],
    from_list: bool,
) -> TemplateResponse:
    """The GET (or, from the list's action, the first POST) before sending: nothing is sent."""
    events = []
    for key in keys:
        trigger, resolve = preview(key, request.user.get_username())
        events.append((key, trigger, resolve))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Send a test event?",
        "opts": RoutingKey._meta,
        "events": events,
        "from_list": from_list,
        "selected": [key.pk for key in keys],
    }
    return TemplateResponse(request, "admin/policies/routingkey/test_event_confirm.html", context)


def send_and_report(
    model_admin: admin.ModelAdmin[RoutingKey], request: HttpRequest, key: RoutingKey
) -> ProbeResult:
    result = send_probe(key, sent_by=request.user.get_username())
    level = messages.SUCCESS if result.ok else messages.ERROR
    model_admin.message_user(
        request,
        format_html(
            '{} ({}): {} (<a href="{}">what was sent</a>)',
            key.name,
            key.masked_key,
            result.describe(),
            result_url(result.record),
        ),
        level,
    )
    return result


def result_page(
    model_admin: admin.ModelAdmin[RoutingKey], request: HttpRequest, key: RoutingKey, probe_id: str
) -> HttpResponse:
    probe = get_object_or_404(Probe, pk=probe_id, routing_key=key)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Test event to {key}",
        "opts": RoutingKey._meta,
        "key": key,
        "probe": probe,
        "events": [
            ("Trigger", probe.trigger_body, probe.trigger_answer),
            *(
                [("Resolve", probe.resolve_body, probe.resolve_answer)]
                if probe.resolve_body
                else []
            ),
        ],
    }
    return TemplateResponse(request, "admin/policies/routingkey/test_event_result.html", context)
