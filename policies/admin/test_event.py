"""The test message's pages: a confirmation that says what will be sent and to which channel
(secrets masked) before anyone is notified, and afterwards what was sent next to the service's
answers."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from policies.models import Channel, Probe
from policies.probe import ProbeResult, preview, send_probe


def result_url(probe: Probe) -> str:
    return reverse("admin:policies_channel_test_event_result", args=[probe.channel_id, probe.pk])


def confirm_page(
    model_admin: admin.ModelAdmin[Channel],
    request: HttpRequest,
    channels: list[Channel],
    from_list: bool,
) -> TemplateResponse:
    """The GET (or, from the list's action, the first POST) before sending: nothing is sent."""
    events = []
    for channel in channels:
        trigger, resolve = preview(channel, request.user.get_username())
        events.append((channel, trigger, resolve))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Send a test message?",
        "opts": Channel._meta,
        "events": events,
        "from_list": from_list,
        "selected": [channel.pk for channel in channels],
    }
    return TemplateResponse(request, "admin/policies/channel/test_event_confirm.html", context)


def send_and_report(
    model_admin: admin.ModelAdmin[Channel], request: HttpRequest, channel: Channel
) -> ProbeResult:
    result = send_probe(channel, sent_by=request.user.get_username())
    level = messages.SUCCESS if result.ok else messages.ERROR
    model_admin.message_user(
        request,
        format_html(
            '{} ({}): {} (<a href="{}">what was sent</a>)',
            channel.name,
            channel.masked_secret or channel.kind_label,
            result.describe(),
            result_url(result.record),
        ),
        level,
    )
    return result


def result_page(
    model_admin: admin.ModelAdmin[Channel], request: HttpRequest, channel: Channel, probe_id: str
) -> HttpResponse:
    probe = get_object_or_404(Probe, pk=probe_id, channel=channel)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Test message to {channel}",
        "opts": Channel._meta,
        "channel": channel,
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
    return TemplateResponse(request, "admin/policies/channel/test_event_result.html", context)
