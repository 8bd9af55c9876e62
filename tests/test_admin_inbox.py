"""The console inbox in the admin: what inbox channels received, read-only, each message as
plain text next to what every other kind would have been sent for it, with no secret."""

import pytest
from django.urls import reverse

from policies import channels
from policies.models import Channel, InboxMessage

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:policies_inboxmessage_changelist")


@pytest.fixture
def received(ops, make_channel, make_routing_key) -> list[InboxMessage]:
    """A test message and its resolve, sent to an inbox channel from its page."""
    make_routing_key(name="Search on-call")  # a PagerDuty channel: its key must not show
    inbox = make_channel(name="Try it out", kind="inbox")
    response = ops.post(reverse("admin:policies_channel_test_event", args=[inbox.pk]))
    assert response.status_code == 302
    return list(InboxMessage.objects.order_by("pk"))


def test_a_test_message_lands_in_the_inbox(received):
    assert [m.event for m in received] == ["trigger", "resolve"]
    assert all(m.channel.name == "Try it out" for m in received)


def test_the_list_shows_what_came_in(ops, received):
    response = ops.get(LIST_URL)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 2
    html = response.content.decode()
    assert "Try it out (Console inbox)" in html
    assert received[0].title in html


def test_a_message_shows_its_text_and_every_kinds_rendering(ops, received):
    trigger = received[0]
    url = reverse("admin:policies_inboxmessage_change", args=[trigger.pk])

    response = ops.get(url)

    html = response.content.decode()
    assert response.status_code == 200
    assert '<pre class="inbox-text">' in html
    assert "Test event from the Alerting Console for Try it out" in html
    for kind in channels.KINDS.values():
        if kind.name != "inbox":
            assert f"<h3>{kind.label}</h3>" in html
    assert html.count('<pre class="inbox-rendering">') == len(channels.KINDS) - 1
    pagerduty_key = Channel.objects.get(name="Search on-call").secret
    assert pagerduty_key not in html
    assert not response.context["has_change_permission"]


def test_the_inbox_is_read_only(ops, received):
    trigger = received[0]
    change = reverse("admin:policies_inboxmessage_change", args=[trigger.pk])
    delete = reverse("admin:policies_inboxmessage_delete", args=[trigger.pk])

    assert ops.get(reverse("admin:policies_inboxmessage_add")).status_code == 403
    assert ops.post(change, {"title": "changed"}).status_code == 403
    assert ops.post(delete, {"post": "yes"}).status_code == 403
    trigger.refresh_from_db()
    assert trigger.title != "changed"
    assert InboxMessage.objects.count() == 2


def test_the_inbox_can_be_filtered_by_channel_and_event(ops, received, make_channel):
    other = make_channel(name="Other inbox", kind="inbox")
    ops.post(reverse("admin:policies_channel_test_event", args=[other.pk]))

    by_channel = ops.get(LIST_URL, {"channel__id__exact": other.pk})
    by_event = ops.get(LIST_URL, {"event__exact": "resolve"})

    assert {m.channel_id for m in by_channel.context["cl"].result_list} == {other.pk}
    assert {m.event for m in by_event.context["cl"].result_list} == {"resolve"}
    assert by_event.context["cl"].result_count == 2


def test_the_channel_filter_offers_only_channels_with_messages(ops, received, make_channel):
    make_channel(name="Never used", kind="inbox")

    html = ops.get(LIST_URL).content.decode()

    assert "Try it out (Console inbox)" in html
    assert "Never used" not in html
    assert "Search on-call" not in html
