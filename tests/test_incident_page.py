"""The incident page's first screen, where PagerDuty's link lands: its state, its count against
the threshold over time, and its actions (resolve with a confirmation, silence this, retry
delivery now), each refused to whoever may not do it."""

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ingest import rollups
from ingest.models import GatewayRequest
from policies import hung_counting
from policies.count_history import count_history, span_for
from policies.counting import count_groups, count_rows
from policies.models import Delivery, DeliveryAttempt, Incident, IncidentEvent, PolicyKind
from tests.broker import empty_queues, queued_deliveries  # noqa: F401 - a fixture
from tests.embedded import run_on_embedded_sqlite
from tests.engine_helpers import T0, add_requests
from tests.test_roles import person

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def change_url(incident):
    return reverse("admin:policies_incident_change", args=[incident.pk])


def resolve_url(incident):
    return reverse("admin:policies_incident_resolve", args=[incident.pk])


def retry_url(incident):
    return reverse("admin:policies_incident_retry", args=[incident.pk])


@pytest.fixture
def teams(make_team):
    return make_team(slug="search", name="Search", gateway_team_id="team-search"), make_team(
        slug="billing", name="Billing", gateway_team_id="team-billing"
    )


def open_incident(policy, group, team=None, detected_at=None, **fields):
    detected_at = detected_at or timezone.now()
    return Incident.objects.create(
        policy=policy, group_key=group, dedup_key=f"d-{policy.pk}-{group}",
        summary=f"{group} fails",
        severity="error", team=team, started_at=detected_at, detected_at=detected_at,
        trigger_count=5, peak_count=5, last_count=5, last_paged_at=detected_at,
        details={"top_errors": [{"error_class": "RateLimitError", "status_code": 429, "count": 7}]},
        **fields,
    )  # fmt: skip


@pytest.fixture
def incidents(make_policy, teams):
    return tuple(
        open_incident(
            make_policy(name=team.name, filter_team=team, group_by="team"),
            team.gateway_team_id,
            team,
        )
        for team in teams
    )


@pytest.fixture
def editor(teams):
    client = person("erin", "Team editors")
    teams[0].editors.add(client.user)  # type: ignore[attr-defined]
    return client


@pytest.fixture
def viewer(db):
    return person("vic", "Viewers")


def a_week_later():
    """A week after T0: the deltas folded, the buckets of seconds and tens of seconds pruned."""
    later = T0 + timedelta(days=7)
    while rollups.fold():
        pass
    rollups.prune(later)
    return later


def retrying_trigger(incident, next_try_in=300):
    """A trigger that failed once and waits out its backoff."""
    now = timezone.now()
    delivery = Delivery.objects.create(
        incident=incident, action=Delivery.Action.TRIGGER, created_at=now - timedelta(seconds=20),
        attempts=1, next_attempt_at=now + timedelta(seconds=next_try_in),
        last_error="connection refused",
    )  # fmt: skip
    DeliveryAttempt.objects.create(delivery=delivery, at=now, duration_ms=3, error="refused")
    return delivery


class TestTheChart:
    @pytest.mark.parametrize(
        "kind",
        [
            {"kind": PolicyKind.FAILURES, "threshold": 3, "window_seconds": 60},
            {"kind": PolicyKind.FAILURE_RATE, "failure_rate_percent": 20, "window_seconds": 60},
            {"kind": PolicyKind.SLOW, "duration_seconds": 5.0, "window_seconds": 60},
        ],
        ids=lambda k: k["kind"],
    )
    def test_each_moment_has_the_count_the_evaluator_would_see_then(self, make_policy, kind):
        policy = make_policy(group_by="key_alias", **kind)
        for second, n in ((-50, 2), (-20, 1), (5, 4), (30, 3), (61, 1), (95, 2)):
            at = T0 + timedelta(seconds=second)
            add_requests(n, at=at, key_alias="k1", latency_seconds=9)
            add_requests(1, at=at, key_alias="k1", outcome="success", latency_seconds=1)
            add_requests(5, at=at, key_alias="other", latency_seconds=9)  # another group
        incident = open_incident(policy, "k1", detected_at=T0 + timedelta(seconds=10))

        history = count_history(
            incident, T0 + timedelta(seconds=100), now=T0 + timedelta(seconds=100)
        )

        span = history.span
        assert span.points > 10
        expected = [count_groups(policy, span.moment(i)).get("k1") for i in range(span.points)]
        assert [(c.matched, c.total) if c.total or c.matched else None for c in history.counts] == [
            (e.matched, e.total) if e else None for e in expected
        ]
        assert max(c.matched for c in history.counts) > 0

    def test_hung_requests_count_in_the_window_their_hang_began(self, make_policy):
        policy = make_policy(
            kind=PolicyKind.HUNG, duration_seconds=30.0, window_seconds=60, group_by="everything"
        )
        for i, second in enumerate((-80, -40, 0, 20)):
            start = T0 + timedelta(seconds=second)
            for n in range(2):  # still running: never finished
                GatewayRequest.objects.create(
                    source="gw", request_id=f"hung-{i}-{n}", started_at=start, received_at=start
                )
        incident = open_incident(policy, "", detected_at=T0)

        history = count_history(
            incident, T0 + timedelta(seconds=90), now=T0 + timedelta(seconds=90)
        )

        span = history.span
        expected = [count_groups(policy, span.moment(i)).get("") for i in range(span.points)]
        assert [c.matched for c in history.counts] == [e.matched if e else 0 for e in expected]
        assert max(c.matched for c in history.counts) == 4  # two starts 40 s apart

    @pytest.mark.parametrize(
        "kind", [PolicyKind.FAILURES, PolicyKind.FAILURE_RATE, PolicyKind.SLOW]
    )
    def test_on_postgres_it_reads_the_counts_not_the_requests(self, make_policy, kind):
        extra = {
            PolicyKind.SLOW: {"duration_seconds": 5.0},
            PolicyKind.FAILURE_RATE: {"failure_rate_percent": 20},
        }.get(kind, {})
        policy = make_policy(kind=kind, window_seconds=60, group_by="key_alias", **extra)
        for second in (-50, -20, 5, 30):
            add_requests(4, at=T0 + timedelta(seconds=second), key_alias="k1", latency_seconds=9)
        incident = open_incident(policy, "k1", detected_at=T0 + timedelta(seconds=10))

        # A page viewed a fraction of a second after a whole one: the chart ends at that second.
        now = T0 + timedelta(seconds=100, microseconds=250_000)
        with CaptureQueriesContext(connection) as queries:
            history = count_history(incident, now, now=now)

        assert not [q["sql"] for q in queries if "ingest_gatewayrequest" in q["sql"]]
        assert history.span.end == T0 + timedelta(seconds=100)
        assert max(c.matched for c in history.counts) == 12  # three batches of four in a window

    def test_on_postgres_hung_requests_are_read_through_their_own_indexes(self, make_policy):
        policy = make_policy(
            kind=PolicyKind.HUNG, duration_seconds=30.0, window_seconds=60, group_by="everything"
        )
        start = T0 - timedelta(seconds=40)
        GatewayRequest.objects.create(
            source="gw", request_id="hung", started_at=start, received_at=start
        )
        add_requests(3, at=T0, started=start, latency_seconds=40.0)  # finished late: hung too
        add_requests(5, at=T0, started=T0 - timedelta(seconds=1), latency_seconds=1.0)  # quick
        incident = open_incident(policy, "", detected_at=T0)

        with CaptureQueriesContext(connection) as queries:
            history = count_history(
                incident, T0 + timedelta(seconds=60), now=T0 + timedelta(seconds=60)
            )

        reads = [q["sql"] for q in queries if "ingest_gatewayrequest" in q["sql"]]
        assert len(reads) == 1
        assert "finished_at IS NULL AND" in reads[0]
        assert hung_counting.LATE_BIN in reads[0]  # the index of the late, by latency bin
        assert max(c.matched for c in history.counts) == 4

    def test_an_incident_older_than_the_seconds_kept_is_charted_by_whole_minutes(self, make_policy):
        policy = make_policy(
            kind=PolicyKind.FAILURES, threshold=3, window_seconds=300, group_by="key_alias"
        )
        for second in (-250, -130, -61, -60, 7, 59, 60, 61, 200, 420):
            add_requests(2, at=T0 + timedelta(seconds=second), key_alias="k1")
        incident = open_incident(
            policy, "k1", detected_at=T0, resolved_at=T0 + timedelta(seconds=500, microseconds=1)
        )
        later = a_week_later()

        history = count_history(incident, incident.resolved_at, now=later)

        span = history.span
        assert span.end == T0 + timedelta(seconds=480)  # the whole minute at or before the end
        assert span.step % timedelta(minutes=1) == timedelta(0)
        expected = [count_groups(policy, span.moment(i)).get("k1") for i in range(span.points)]
        assert [c.matched for c in history.counts] == [e.matched if e else 0 for e in expected]
        assert max(c.matched for c in history.counts) == 14  # at +120 s: from -130 s to +61 s

    def test_a_window_finer_than_the_counts_kept_is_counted_from_the_rows(self, make_policy):
        policy = make_policy(
            kind=PolicyKind.FAILURES, threshold=3, window_seconds=90, group_by="key_alias"
        )
        for second in (-80, -30, 10, 44, 45, 46):
            add_requests(1, at=T0 + timedelta(seconds=second), key_alias="k1")
        incident = open_incident(
            policy, "k1", detected_at=T0, resolved_at=T0 + timedelta(seconds=60)
        )
        later = a_week_later()

        history = count_history(incident, incident.resolved_at, now=later)

        span = history.span
        expected = [
            count_rows([policy], span.moment(i))[policy.pk].get("k1") for i in range(span.points)
        ]
        assert [c.matched for c in history.counts] == [e.matched if e else 0 for e in expected]
        assert max(c.matched for c in history.counts) == 5

    def test_the_embedded_sqlite_database_charts_the_same(self, tmp_path):
        result = run_on_embedded_sqlite("tests.sqlite_count_history", tmp_path)

        assert result == {"vendor": "sqlite", "mismatched": [], "peak": 8}

    def test_a_long_incident_is_charted_by_whole_windows_and_bounded(self):
        span = span_for(60, T0, T0 + timedelta(days=2))

        assert (span.points, span.per_window, span.step) == (60, 1, timedelta(seconds=60))
        assert span.end == T0 + timedelta(days=2)

    def test_the_page_draws_the_threshold_and_the_count(self, ops, make_policy):
        policy = make_policy(threshold=3, window_seconds=60, group_by="key_alias")
        now = timezone.now()
        add_requests(4, at=now - timedelta(seconds=5), key_alias="k1")
        incident = open_incident(policy, "k1", detected_at=now - timedelta(seconds=30))

        page = ops.get(change_url(incident)).content.decode()

        assert 'class="chart-threshold"' in page
        assert "failed requests over time: last 4, peak 4, threshold 3" in page
        assert page.index('id="incident-first-screen"') < page.index('id="incident-timeline"')


class TestResolve:
    def test_it_asks_first_and_changes_nothing_until_confirmed(self, ops, incidents):
        page = ops.get(resolve_url(incidents[0]))

        assert page.status_code == 200
        assert "Yes, resolve it" in page.content.decode()
        incidents[0].refresh_from_db()
        assert incidents[0].status == "open"

    def test_confirming_resolves_it_and_records_who(self, ops, incidents, staff_user):
        response = ops.post(resolve_url(incidents[0]))

        assert response.status_code == 302
        assert response["Location"] == change_url(incidents[0])
        incidents[0].refresh_from_db()
        assert (incidents[0].status, incidents[0].resolved_by) == ("resolved", staff_user)
        event = incidents[0].events.get(kind=IncidentEvent.Kind.RESOLVED)
        assert event.user == staff_user
        assert "Resolved by hand by ops." in event.message

    def test_a_viewer_may_not(self, viewer, incidents):
        assert viewer.post(resolve_url(incidents[0])).status_code == 403
        assert viewer.get(resolve_url(incidents[0])).status_code == 403
        assert 'id="resolve-incident"' not in viewer.get(change_url(incidents[0])).content.decode()
        assert set(Incident.objects.values_list("status", flat=True)) == {"open"}

    def test_a_team_editor_resolves_only_their_teams_incident(self, editor, incidents):
        assert editor.post(resolve_url(incidents[1])).status_code == 403
        assert editor.post(resolve_url(incidents[0])).status_code == 302

        statuses = dict(Incident.objects.values_list("pk", "status"))
        assert statuses == {incidents[0].pk: "resolved", incidents[1].pk: "open"}

    def test_a_resolved_incident_is_not_resolved_again(self, ops, incidents, staff_user):
        ops.post(resolve_url(incidents[0]))
        response = ops.post(resolve_url(incidents[0]), follow=True)

        assert "Already resolved by ops" in response.content.decode()
        assert incidents[0].events.filter(kind=IncidentEvent.Kind.RESOLVED).count() == 1


class TestSilenceThis:
    def test_the_link_fills_the_silence_form_with_the_incidents_team(self, ops, incidents, teams):
        page = ops.get(change_url(incidents[0]))
        links = [link.url for link in page.context["silence_links"]]

        team_form = ops.get(links[0])
        policy_form = ops.get(links[1])

        assert parse_qs(urlsplit(links[0]).query)["scope"] == ["team"]
        form = team_form.context["adminform"].form
        assert (form["scope"].value(), form["team"].value()) == ("team", str(teams[0].pk))
        assert form["reason"].value().startswith(f"Incident #{incidents[0].pk}: ")
        form = policy_form.context["adminform"].form
        assert (form["scope"].value(), form["policy"].value()) == (
            "policy",
            str(incidents[0].policy_id),
        )

    def test_a_key_alias_incident_is_silenced_by_its_key_alias(self, ops, make_policy):
        incident = open_incident(make_policy(group_by="key_alias"), "batch-jobs")

        link = ops.get(change_url(incident)).context["silence_links"][0]

        form = ops.get(link.url).context["adminform"].form
        assert (form["scope"].value(), form["key_alias"].value()) == ("key_alias", "batch-jobs")


class TestRetry:
    @pytest.mark.usefixtures("empty_queues")
    def test_it_makes_the_waiting_page_due_and_hands_it_to_a_worker(
        self, ops, incidents, django_capture_on_commit_callbacks
    ):
        delivery = retrying_trigger(incidents[0])
        before = timezone.now()

        with django_capture_on_commit_callbacks(execute=True):
            response = ops.post(retry_url(incidents[0]), follow=True)

        delivery.refresh_from_db()
        assert before <= delivery.next_attempt_at <= timezone.now()
        assert queued_deliveries() == [delivery.pk]
        assert "The trigger was handed to a worker now (after 1 failed attempt)" in (
            response.content.decode()
        )

    def test_a_page_being_sent_right_now_is_left_alone(self, ops, incidents):
        now = timezone.now()
        delivery = Delivery.objects.create(
            incident=incidents[0],
            action=Delivery.Action.TRIGGER,
            created_at=now,
            attempts=1,
            next_attempt_at=now + timedelta(seconds=30),
        )  # fmt: skip  (claimed: one attempt counted, no answer recorded)

        response = ops.post(retry_url(incidents[0]), follow=True)

        delivery.refresh_from_db()
        assert delivery.next_attempt_at == now + timedelta(seconds=30)
        assert "is being sent right now" in response.content.decode()

    def test_it_says_when_nothing_waits(self, ops, incidents):
        response = ops.post(retry_url(incidents[0]), follow=True)

        assert "Nothing to retry" in response.content.decode()

    def test_it_is_post_only(self, ops, incidents):
        retrying_trigger(incidents[0])

        assert ops.get(retry_url(incidents[0])).status_code == 405

    def test_a_viewer_may_not(self, viewer, incidents):
        delivery = retrying_trigger(incidents[0])

        assert viewer.post(retry_url(incidents[0])).status_code == 403
        assert delivery.next_attempt_at == Delivery.objects.get().next_attempt_at
        assert 'id="retry-delivery"' not in viewer.get(change_url(incidents[0])).content.decode()

    def test_a_team_editor_may_not_for_another_team(self, editor, incidents):
        delivery = retrying_trigger(incidents[1])

        assert editor.post(retry_url(incidents[1])).status_code == 403
        assert delivery.next_attempt_at == Delivery.objects.get().next_attempt_at


class TestTheRestBelow:
    def test_sample_requests_are_in_time_order(self, ops, make_policy):
        policy = make_policy(group_by="key_alias")
        now = timezone.now()
        add_requests(1, at=now - timedelta(seconds=10), key_alias="k1")
        add_requests(1, at=now - timedelta(seconds=50), key_alias="k1")
        add_requests(1, at=now - timedelta(seconds=30), key_alias="k1")
        by_time = list(
            GatewayRequest.objects.order_by("finished_at").values_list("request_id", flat=True)
        )
        incident = open_incident(policy, "k1")
        incident.details["sample_request_ids"] = [by_time[2], by_time[0], by_time[1]]
        incident.save()

        page = ops.get(change_url(incident)).content.decode()

        positions = [page.index(f">{request_id}<") for request_id in by_time]
        assert positions == sorted(positions)

    def test_the_requests_link_lists_the_groups_failed_requests_of_its_time(
        self, ops, incidents, teams
    ):
        now = timezone.now()
        add_requests(2, at=now - timedelta(seconds=5), gateway_team_id="team-search")
        add_requests(3, at=now - timedelta(seconds=5), gateway_team_id="team-billing")
        add_requests(
            1, at=now - timedelta(seconds=5), gateway_team_id="team-search", outcome="success"
        )
        add_requests(1, at=now - timedelta(hours=2), gateway_team_id="team-search")  # before

        link = ops.get(change_url(incidents[0])).context["requests_link"]
        listed = ops.get(link.url)

        assert listed.status_code == 200
        assert "team Search" in link.label
        assert listed.context["cl"].queryset.count() == 2
