"""Migrations 0010 and 0011 keep every row written by the PagerDuty-shaped schema: routing keys
become PagerDuty channels with the same ids and keys, routes send to them, every delivery (and
its attempts) goes to the channel its incident was routed to, test events stay with their
channel, an incident that opened muted stays muted (with its reason), and the roles keep their
rights under the new name."""

from datetime import UTC, datetime

import pytest

from tests.migrating import latest, migrate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("policies", "0009_test_events")]
AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KEY = "R0AB" + "s" * 24 + "XY12"


def old_rows(old):
    Team = old.get_model("policies", "Team")
    RoutingKey = old.get_model("policies", "RoutingKey")
    Route = old.get_model("policies", "Route")
    Policy = old.get_model("policies", "AlertPolicy")
    Incident = old.get_model("policies", "Incident")
    Delivery = old.get_model("policies", "Delivery")
    Attempt = old.get_model("policies", "DeliveryAttempt")
    Probe = old.get_model("policies", "Probe")

    search = Team.objects.create(name="Search", slug="search", gateway_team_id="team-search")
    search_key = RoutingKey.objects.create(
        name="Search on-call", integration_key=KEY, key_hint="R0AB…XY12", team=search
    )
    platform_key = RoutingKey.objects.create(name="Platform on-call", integration_key="P" * 32)
    Route.objects.create(scope="team", team=search, routing_key=search_key)
    Route.objects.create(scope="default", routing_key=platform_key)
    policy = Policy.objects.create(name="Upstream failures")

    def incident(key, group, **fields):
        return Incident.objects.create(
            policy=policy, group_key=group, dedup_key=f"k-{group}", summary=f"s {group}",
            severity="error", routing_key=key, started_at=AT, detected_at=AT, noticed_at=AT,
            trigger_count=5, peak_count=5, last_count=5, last_paged_at=AT, status="resolved",
            **fields,
        )  # fmt: skip

    paged = incident(search_key, "team-search")
    trigger = Delivery.objects.create(
        incident=paged, action="trigger", status="delivered", created_at=AT, attempts=1,
        finished_at=AT,
    )  # fmt: skip
    Attempt.objects.create(delivery=trigger, at=AT, duration_ms=40, http_status=202)
    Delivery.objects.create(
        incident=paged, action="resolve", status="delivered", created_at=AT, finished_at=AT
    )
    incident(platform_key, "muted", paged=False, muted_by="silence #3 of team Search: upgrade")
    unrouted = incident(None, "nowhere")
    Delivery.objects.create(
        incident=unrouted, action="trigger", status="no_route", created_at=AT, finished_at=AT
    )
    Probe.objects.create(
        routing_key=search_key, sent_by="ops", sent_at=AT, trigger_body="{}",
        trigger_answer="HTTP 202", ok=True,
    )  # fmt: skip
    return search_key.pk, platform_key.pk


def test_routing_keys_become_pagerduty_channels_and_every_row_follows():
    search_id, platform_id = old_rows(migrate(BEFORE))
    try:
        new = migrate(latest())
        Channel = new.get_model("policies", "Channel")
        Route = new.get_model("policies", "Route")
        Incident = new.get_model("policies", "Incident")
        Probe = new.get_model("policies", "Probe")

        channels = {c.pk: c for c in Channel.objects.all()}
        assert set(channels) == {search_id, platform_id}
        search = channels[search_id]
        assert (search.name, search.kind, search.secret, search.secret_hint) == (
            "Search on-call",
            "pagerduty",
            KEY,
            "R0AB…XY12",
        )
        assert search.team.slug == "search"
        assert (search.public_settings, search.disabled_at, search.refusals_in_a_row) == (
            {},
            None,
            0,
        )

        routes = {
            r.scope: [c.pk for c in r.channels.all()] for r in Route.objects.order_by("scope")
        }
        assert routes == {"team": [search_id], "default": [platform_id]}
        assert all(r.kinds == [] and not r.continue_matching for r in Route.objects.all())

        paged = Incident.objects.get(group_key="team-search")
        assert sorted(paged.deliveries.values_list("action", "status", "channel_id")) == [
            ("resolve", "delivered", search_id),
            ("trigger", "delivered", search_id),
        ]
        trigger = paged.deliveries.get(action="trigger")
        assert list(trigger.attempts_made.values_list("http_status", flat=True)) == [202]

        muted = Incident.objects.get(group_key="muted")
        [page] = muted.deliveries.all()
        assert (page.action, page.status, page.channel_id) == ("trigger", "muted", platform_id)
        assert page.last_error == "silence #3 of team Search: upgrade"

        unrouted = Incident.objects.get(group_key="nowhere")
        assert list(unrouted.deliveries.values_list("status", "channel_id")) == [("no_route", None)]
        assert Probe.objects.get().channel_id == search_id
    finally:
        migrate(latest())


def test_the_roles_keep_their_rights_on_what_routing_keys_became():
    import importlib

    old = migrate(BEFORE)
    # The roles as 0004 made them (a test's flush empties the tables between tests).
    importlib.import_module("policies.migrations.0004_roles").create_roles(old, None)
    Group = old.get_model("auth", "Group")
    assert (
        Group.objects.get(name="Team editors")
        .permissions.filter(codename="change_routingkey")
        .exists()
    )
    try:
        new = migrate(latest())
        Group = new.get_model("auth", "Group")
        Permission = new.get_model("auth", "Permission")

        def rights(name):
            codenames = Group.objects.get(name=name).permissions.values_list("codename", flat=True)
            return sorted(c for c in codenames if "channel" in c or "inbox" in c)

        assert rights("Team editors") == [
            "add_channel",
            "change_channel",
            "delete_channel",
            "view_channel",
            "view_inboxmessage",
        ]
        assert rights("Viewers") == ["view_channel", "view_inboxmessage"]
        assert not Permission.objects.filter(codename__endswith="_routingkey").exists()
    finally:
        migrate(latest())


def test_the_migrated_incident_reads_as_muted_and_its_channel_as_a_pagerduty_one():
    """With the real models: what the admin and the engine read from the moved rows."""
    old_rows(migrate(BEFORE))
    try:
        migrate(latest())
        from policies.dispatch import muted_only
        from policies.models import Channel, Incident

        assert muted_only(Incident.objects.get(group_key="muted")) == (
            "silence #3 of team Search: upgrade"
        )
        assert muted_only(Incident.objects.get(group_key="team-search")) == ""
        search = Channel.objects.get(name="Search on-call")
        search.full_clean()  # a valid PagerDuty channel
        assert str(search) == "Search on-call (PagerDuty)"
    finally:
        migrate(latest())


def test_a_webhooks_headers_move_apart_and_leave_the_history():
    before = [("policies", "0013_drop_routing_key_columns")]
    old = migrate(before)
    Channel = old.get_model("policies", "Channel")
    History = old.get_model("policies", "HistoricalChannel")
    hook = Channel.objects.create(
        name="hooks", kind="webhook", secret="https://hooks.example.com/a",
        settings={"headers": "Authorization: Bearer s3cret-token"},
    )  # fmt: skip
    History.objects.create(
        id=hook.pk, name="hooks", kind="webhook", secret_hint="…",
        settings={"headers": "Authorization: Bearer s3cret-token"},
        history_date=AT, history_type="+", created_at=AT, updated_at=AT,
    )  # fmt: skip
    try:
        new = migrate(latest())
        moved = new.get_model("policies", "Channel").objects.get()
        assert moved.public_settings == {}
        assert moved.secret_settings == {"headers": "Authorization: Bearer s3cret-token"}
        [record] = new.get_model("policies", "HistoricalChannel").objects.all()
        assert "s3cret-token" not in str(record.public_settings)
    finally:
        migrate(latest())


@pytest.mark.django_db
def test_a_channels_history_never_holds_its_secret_settings():
    from policies.models import Channel

    hook = Channel(name="hooks", kind="webhook", secret="https://hooks.example.com/a")
    hook.settings = {"headers": "Authorization: Bearer s3cret-token"}
    hook.save()
    hook.settings = {"headers": "Authorization: Bearer n3w-token"}
    hook.description = "changed"
    hook.save()

    rows = list(hook.history.values())
    assert len(rows) == 2
    assert "token" not in str(rows)
    assert Channel.objects.get().settings == {"headers": "Authorization: Bearer n3w-token"}
