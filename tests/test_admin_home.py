"""What people see on every page and on the home page: the maintenance banner, the charts,
delivery health, the change history, and failed logins slowed down."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ingest.models import GatewayRequest, IngestToken
from policies.models import AlertPolicy, Channel, Delivery, Incident, Maintenance
from tests.admin_helpers import form_data_of
from tests.engine_helpers import add_requests, in_a_day

pytestmark = pytest.mark.django_db

HOME = reverse("admin:index")


@pytest.fixture(autouse=True)
def _fresh_dashboard_cache():
    cache.clear()


@pytest.mark.parametrize(
    "url",
    [
        HOME,
        reverse("admin:policies_alertpolicy_changelist"),
        reverse("admin:policies_alertpolicy_add"),
    ],
)
def test_maintenance_mode_is_shown_on_every_page_while_on(ops, staff_user, url):
    assert 'id="maintenance-banner"' not in ops.get(url).content.decode()

    Maintenance.objects.create(
        enabled=True, reason="moving the database", changed_by=staff_user, ends_at=in_a_day()
    )
    html = ops.get(url).content.decode()

    assert 'id="maintenance-banner"' in html
    assert "nobody is paged" in html
    assert "moving the database" in html


def test_the_home_page_shows_open_incidents_failures_per_team_and_channel_health(
    ops, make_policy, make_routing_key
):
    now = timezone.now()
    add_requests(3, at=now - timedelta(minutes=5), gateway_team_alias="Search")
    add_requests(2, at=now - timedelta(hours=2), gateway_team_alias="Billing")
    GatewayRequest.objects.create(  # started an hour ago and still running: hung
        source="gw", request_id="hung-1", started_at=now - timedelta(hours=1),
        received_at=now - timedelta(hours=1), gateway_team_alias="Search",
    )  # fmt: skip
    add_requests(5, at=now - timedelta(hours=20), gateway_team_alias="Old")  # out of the chart
    key = make_routing_key(name="Search on-call")
    policy = make_policy(name="Search failures")
    incident = Incident.objects.create(
        policy=policy, dedup_key="d1", summary="Search failures: 3 failed requests",
        severity="critical", started_at=now, detected_at=now,
        trigger_count=3, peak_count=3, last_count=3, last_paged_at=now,
    )  # fmt: skip
    Delivery.objects.create(
        incident=incident, channel=key, action="trigger", created_at=now, status="gave_up",
        finished_at=now, last_error="HTTP 503",
    )  # fmt: skip

    response = ops.get(HOME)

    html = response.content.decode()
    dashboard = response.context["dashboard"]
    assert dashboard["open_count"] == 1
    assert "Search failures: 3 failed requests" in html
    rows = {row.series.label: row.series for row, _ in dashboard["chart_rows"]}
    assert set(rows) == {"Search", "Billing"}
    assert (sum(rows["Search"].failures), sum(rows["Search"].hung)) == (3, 1)
    assert sum(rows["Billing"].failures) == 2
    assert html.count('<svg class="chart"') == 2
    assert "Search: 3 failed, 1 hung" in html  # the chart's accessible label
    [health] = dashboard["channel_health"]
    assert (health.failed_last_day, health.healthy) == (1, False)
    assert key.secret not in html
    assert key.masked_secret in html


def test_the_home_page_works_with_nothing_yet(ops):
    html = ops.get(HOME).content.decode()

    assert "Nothing is open." in html
    assert "No requests in the last 12 hours" in html


def test_a_policy_change_is_in_its_history_with_who_and_what(ops, staff_user, make_policy):
    policy = make_policy(name="Search failures", threshold=5)
    url = reverse("admin:policies_alertpolicy_change", args=[policy.pk])

    ops.post(url, form_data_of(ops.get(url), threshold=12))

    record = AlertPolicy.history.filter(id=policy.pk).first()
    assert record is not None
    assert record.history_user == staff_user
    delta = record.diff_against(record.prev_record)
    assert [(c.field, c.old, c.new) for c in delta.changes if c.field != "updated_at"] == [
        ("threshold", 5, 12)
    ]
    history = ops.get(reverse("admin:policies_alertpolicy_history", args=[policy.pk]))
    assert "<strong>Threshold (X):</strong>" in history.content.decode()
    page = ops.get(url).content.decode()  # the latest changes on the policy's own page
    assert "ops: Threshold (X): 5 → 12" in page


def test_a_channels_history_shows_its_credential_masked_only(ops, make_routing_key):
    key = make_routing_key(name="Search on-call")
    url = reverse("admin:policies_channel_change", args=[key.pk])
    new = "N3wK3yZ9x8W7v6U5t4S3r2Q1p0OnMl2B"

    ops.post(url, {"name": "Search on-call", "secret": new, "team": "", "description": ""})

    changed = Channel.objects.get()
    assert changed.secret == new
    page = ops.get(url).content.decode()
    assert f"Credential: {key.masked_secret} → {changed.masked_secret}" in page
    for secret in (key.secret, new):
        assert secret not in page
        assert secret[4:-4] not in page


class TestFailedLogins:
    LOGIN = reverse("admin:login")

    def attempt(self, client: Client, password: str):
        return client.post(
            self.LOGIN,
            {"username": "ops", "password": password, "next": HOME},
            REMOTE_ADDR="10.0.0.7",
        )

    def test_five_failures_lock_the_login_out_even_with_the_right_password(self, staff_user):
        client = Client()
        for _ in range(4):
            assert self.attempt(client, "wrong").status_code == 200  # the form, with its error

        assert self.attempt(client, "wrong").status_code == 429
        assert self.attempt(client, "a-long-test-password").status_code == 429

    def test_a_success_before_the_limit_resets_the_count(self, staff_user):
        client = Client()
        for _ in range(4):
            self.attempt(client, "wrong")
        assert self.attempt(client, "a-long-test-password").status_code == 302
        client.logout()

        for _ in range(4):
            assert self.attempt(client, "wrong").status_code == 200

    def test_the_lockout_is_per_address(self, staff_user):
        for _ in range(5):
            self.attempt(Client(), "wrong")

        response = Client().post(
            self.LOGIN,
            {"username": "ops", "password": "a-long-test-password", "next": HOME},
            REMOTE_ADDR="10.0.0.8",
        )
        assert response.status_code == 302
        assert User.objects.get(username="ops").is_active


def test_an_ingest_tokens_history_records_who_disabled_it_and_never_the_token(
    ops, staff_user, make_token
):
    token, row = make_token(name="litellm-prod replicas")

    ops.post(
        reverse("admin:ingest_ingesttoken_changelist"),
        {"action": "disable_tokens", "_selected_action": [row.pk]},
    )

    latest = IngestToken.history.filter(id=row.pk).first()
    assert latest is not None
    assert (latest.enabled, latest.history_user) == (False, staff_user)
    assert not hasattr(latest, "token_hash")
    pages = [
        ops.get(reverse("admin:ingest_ingesttoken_history", args=[row.pk])),
        ops.get(reverse("admin:ingest_ingesttoken_change", args=[row.pk])),
    ]
    for page in pages:
        html = page.content.decode()
        assert "Enabled" in html
        assert token not in html
        assert row.token_hash not in html


def test_delivery_health_is_counted_at_most_every_few_seconds(ops, make_policy, make_routing_key):
    key = make_routing_key(name="Search on-call")
    now = timezone.now()
    incident = Incident.objects.create(
        policy=make_policy(), dedup_key="d1", summary="s", severity="error",
        started_at=now, detected_at=now, trigger_count=3, peak_count=3, last_count=3,
        last_paged_at=now,
    )  # fmt: skip

    def fail():
        Delivery.objects.create(
            incident=incident, channel=key, action="trigger", created_at=now, status="refused",
            finished_at=now,
        )  # fmt: skip

    def failed_last_day():
        [health] = ops.get(HOME).context["dashboard"]["channel_health"]
        return health.failed_last_day

    fail()
    assert failed_last_day() == 1
    fail()
    assert failed_last_day() == 1  # counted a moment ago: the busy table is not read again
    cache.delete("console:delivery-counts")  # as when the cached counts expire
    assert failed_last_day() == 2


def test_a_disabled_channel_is_shown_loudly_in_the_home_pages_channel_table(ops, make_routing_key):
    make_routing_key(name="Search on-call")
    make_routing_key(
        name="Old Slack",
        kind="inbox",
        disabled_at=timezone.now(),
        disabled_reason="refused 5 times in a row: invalid_token",
    )

    response = ops.get(HOME)

    html = response.content.decode()
    table = html[html.index('id="key-health"') :]
    table = table[: table.index("</table>")]
    [disabled] = [row for row in table.split("<tr")[1:] if "Old Slack" in row]
    assert 'class="channel-disabled"' in disabled
    assert '<strong class="channel-disabled">DISABLED</strong>: nothing is sent to it' in disabled
    assert "(refused 5 times in a row: invalid_token)" in disabled
    assert "needs attention" in disabled
    [enabled] = [row for row in table.split("<tr")[1:] if "Search on-call" in row]
    assert "DISABLED" not in enabled
