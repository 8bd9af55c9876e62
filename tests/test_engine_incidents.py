"""A breach opens one incident and pages once; it resolves with the same dedup_key."""

import pytest
import time_machine
from django.db import IntegrityError
from django.utils import timezone

from policies.models import AlertPolicy, Delivery, Incident, IncidentEvent, PolicyState, Route
from tests.engine_helpers import T0, add_requests, drain, evaluate, later, routed

pytestmark = pytest.mark.django_db

KEY = "R0AB" + "c" * 24 + "XY12"


@pytest.fixture
def search_route(make_routing_key, make_team, make_route):
    team = make_team(slug="search", name="Search", gateway_team_id="team-search")
    key = make_routing_key(name="Search on-call", secret=KEY)
    make_route(key, scope=Route.Scope.TEAM, team=team)
    return key


@pytest.fixture
def policy(make_policy):
    return make_policy(
        name="Upstream failures", threshold=5, window_seconds=60, group_by="team",
        resolve_hold_seconds=0, severity="error", runbook_url="https://wiki.example.com/llm",
    )  # fmt: skip


def test_a_breach_opens_an_incident_and_pages_the_teams_key(policy, search_route, pagerduty):
    add_requests(
        6, at=later(-10), gateway_team_id="team-search", key_alias="search-service",
        model_group="gpt-4o", error_class="ServiceUnavailableError", status_code=503,
        user_id="bob@example.com",
    )  # fmt: skip

    evaluate(policy, T0)
    drain(T0)

    incident = Incident.objects.get()
    assert (incident.status, incident.group_key, routed(incident)) == (
        "open",
        "team-search",
        search_route,
    )
    assert incident.trigger_count == incident.peak_count == 6
    [event] = pagerduty.events
    assert event["routing_key"] == KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == incident.dedup_key
    payload = event["payload"]
    assert payload["summary"] == "Upstream failures: 6 failed requests in 60 s for team team-search"
    assert (payload["severity"], payload["source"], payload["class"]) == (
        "error",
        "alerting-console",
        "failures",
    )
    # The team it is about labels it; the model its requests used is information only.
    assert (payload.get("component"), payload["group"]) == (None, "Search")
    details = payload["custom_details"]
    assert (details["busiest_model"], details["busiest_key_alias"]) == ("gpt-4o", "search-service")
    assert (details["count"], details["window_seconds"], details["group"]) == (6, 60, "team-search")
    assert details["top_errors"] == [
        {"error_class": "ServiceUnavailableError", "status_code": 503, "count": 6}
    ]
    assert len(details["sample_request_ids"]) == 5
    assert details["runbook_url"] == "https://wiki.example.com/llm"
    assert {"href": "https://wiki.example.com/llm", "text": "Runbook"} in event["links"]
    assert "bob@example.com" not in str(event)
    assert KEY not in str(payload)


def test_the_page_links_back_to_the_console(policy, search_route, pagerduty, settings):
    settings.CONSOLE_BASE_URL = "https://console.example.com"
    add_requests(5, at=later(-1), gateway_team_id="team-search")

    evaluate(policy, T0)
    drain(T0)

    incident = Incident.objects.get()
    url = f"https://console.example.com/admin/policies/incident/{incident.pk}/change/"
    assert pagerduty.events[0]["links"][0] == {
        "href": url,
        "text": "Incident in the Alerting Console",
    }
    assert pagerduty.events[0]["client_url"] == url


def test_an_ongoing_breach_pages_once(policy, search_route, pagerduty):
    for second in range(0, 50, 5):
        add_requests(5, at=later(second - 1), gateway_team_id="team-search")
        evaluate(policy, later(second))
        drain(later(second))

    assert Incident.objects.count() == 1
    assert [action for action, _ in pagerduty.actions()] == ["trigger"]


def test_it_resolves_with_the_same_dedup_key_and_routing_key(policy, search_route, pagerduty):
    add_requests(5, at=later(-1), gateway_team_id="team-search")
    evaluate(policy, T0)
    drain(T0)

    evaluate(policy, later(61))  # the failures left the window
    drain(later(61))

    incident = Incident.objects.get()
    assert incident.status == "resolved"
    assert incident.resolved_at is not None
    assert T0 < incident.resolved_at <= later(61)
    assert pagerduty.actions() == [("trigger", incident.dedup_key), ("resolve", incident.dedup_key)]
    assert pagerduty.events[1]["routing_key"] == KEY
    kinds = list(incident.events.values_list("kind", flat=True))
    assert kinds == ["opened", "delivery", "resolved", "delivery"]


def test_the_next_breach_is_a_new_incident_with_a_new_dedup_key(policy, search_route, pagerduty):
    add_requests(5, at=later(-1), gateway_team_id="team-search")
    evaluate(policy, T0)
    drain(T0)
    evaluate(policy, later(61))
    add_requests(5, at=later(119), gateway_team_id="team-search")
    evaluate(policy, later(120))
    drain(later(120))

    first, second = Incident.objects.order_by("detected_at")
    assert first.dedup_key != second.dedup_key
    assert [a for a, _ in pagerduty.actions()] == ["trigger", "resolve", "trigger"]


def test_without_a_route_the_incident_is_recorded_and_shows_no_route(make_policy, pagerduty):
    policy = make_policy(threshold=5)
    add_requests(5, at=later(-1))

    evaluate(policy, T0)
    drain(T0)

    incident = Incident.objects.get()
    assert routed(incident) is None
    assert list(incident.deliveries.values_list("action", "status")) == [("trigger", "no_route")]
    assert "nowhere: no route matches" in incident.events.get(kind="opened").message
    assert pagerduty.events == []


def test_the_database_allows_one_open_incident_per_group(policy, search_route, pagerduty):
    add_requests(5, at=later(-1), gateway_team_id="team-search")
    evaluate(policy, T0)
    incident = Incident.objects.get()
    incident.pk = None
    incident.dedup_key = "another"

    with pytest.raises(IntegrityError):
        incident.save()


def test_evaluating_the_same_moment_twice_does_nothing_more(policy, search_route, pagerduty):
    add_requests(5, at=later(-1), gateway_team_id="team-search")

    assert evaluate(policy, T0).startswith("evaluated")
    assert evaluate(policy, T0) == "skipped: already evaluated up to this moment"
    assert Incident.objects.count() == 1
    assert Delivery.objects.count() == 1


def test_a_policy_that_needs_consecutive_breaches_opens_later(make_policy, search_route, pagerduty):
    policy = make_policy(threshold=5, consecutive_breaches=3, group_by="team")
    add_requests(5, at=later(-1), gateway_team_id="team-search")

    evaluate(policy, T0)
    evaluate(policy, later(5))
    assert not Incident.objects.exists()
    assert PolicyState.objects.get(policy=policy).pending["team-search"]["streak"] == 2

    evaluate(policy, later(10))

    incident = Incident.objects.get()
    assert incident.started_at == T0  # the first breaching evaluation
    assert incident.detected_at == later(10)


def test_peaks_and_renotifies_are_recorded(make_policy, search_route, pagerduty):
    policy = make_policy(threshold=3, group_by="team", renotify_seconds=60)
    add_requests(5, at=later(-1), gateway_team_id="team-search")
    add_requests(3, at=later(9), gateway_team_id="team-search")
    for second in range(0, 65, 5):  # one evaluation every 5 s, as beat does
        evaluate(policy, later(second))
    drain(later(65))

    incident = Incident.objects.get()
    assert incident.peak_count == 8
    kinds = list(incident.events.exclude(kind="delivery").values_list("kind", "at"))
    assert kinds == [("opened", T0), ("peak", later(10)), ("renotified", later(60))]
    assert pagerduty.actions() == [("trigger", incident.dedup_key)] * 2


def test_a_policy_with_bad_data_is_skipped_and_the_others_go_on(make_policy, pagerduty, caplog):
    from policies.tasks import evaluate as evaluate_all

    broken = make_policy(name="broken", threshold=5)
    PolicyState.objects.create(policy=broken, pending={"": {"streak": "not a number"}})
    healthy = make_policy(name="healthy", threshold=5)
    add_requests(5, at=later(-1))

    with caplog.at_level("ERROR"):
        outcome = evaluate_all()  # at the real now: the requests are long gone from its window

    assert f"{broken.pk}: failed" in outcome
    assert f"{healthy.pk}: evaluated" in outcome
    assert f"evaluation of policy {broken.pk} failed" in caplog.text


def test_a_missed_stretch_is_caught_up(policy, search_route, pagerduty, settings):
    """Beat (or Redis) was down from T0 to T0+10 min; failures at T0+5 min still open one."""
    settings.EVALUATION_INTERVAL_SECONDS = 5
    AlertPolicy.objects.filter(pk=policy.pk).update(updated_at=later(-3600))  # unchanged since
    evaluate(policy, T0)
    add_requests(5, at=later(300), gateway_team_id="team-search")

    evaluate(policy, later(600))
    drain(later(600))

    incident = Incident.objects.get()
    assert later(300) <= incident.detected_at <= later(360)
    assert incident.status == "resolved"  # and it cleared again before the catch-up ended
    # Recorded, but nobody is woken for a problem that was over before anyone could be paged.
    assert pagerduty.actions() == []
    assert incident.events.get(kind="resolved").message.endswith("nothing is sent.")
    assert IncidentEvent.objects.filter(kind="opened").count() == 1


def test_a_quiet_evaluation_of_many_policies_costs_a_few_queries(
    make_policy, django_assert_max_num_queries
):
    from policies.engine import evaluate_all

    policies = [make_policy(threshold=5, group_by=g) for g in ("everything", "team", "model")]
    policies += [make_policy(kind="hung", duration_seconds=60, threshold=5) for _ in range(7)]
    evaluate_all(T0)  # the first evaluation creates each policy's state
    add_requests(2, at=later(1))

    # Whether maintenance mode is over, the open incidents, the counts (of failures from the
    # request counts, of hung requests from the rows), the policies, and the states moved on:
    # a constant, whatever the number of policies.
    with django_assert_max_num_queries(6):
        outcomes = evaluate_all(later(2))

    assert set(outcomes.values()) == {"evaluated: no change"}
    assert PolicyState.objects.filter(evaluated_at=later(2)).count() == len(policies)


def test_evaluating_all_policies_opens_what_evaluating_one_does(
    make_policy, search_route, pagerduty
):
    from policies.engine import evaluate_all

    quiet = make_policy(name="quiet", threshold=50)
    breached = make_policy(name="breached", threshold=5, group_by="team")
    evaluate_all(T0)
    add_requests(5, at=later(1), gateway_team_id="team-search")

    outcomes = evaluate_all(later(2))
    drain(later(2))

    assert outcomes[quiet.pk] == "evaluated: no change"
    assert outcomes[breached.pk] == "evaluated: team-search open"
    assert Incident.objects.get().policy == breached
    assert len(pagerduty.events) == 1


def test_an_open_incident_with_nothing_new_is_not_written_again(
    make_policy, search_route, pagerduty, django_assert_max_num_queries
):
    from policies.engine import evaluate_all

    policy = make_policy(threshold=5, group_by="team")
    add_requests(5, at=later(-1), gateway_team_id="team-search")
    evaluate_all(T0)
    evaluate_all(later(1))  # the count is unchanged, the incident stays open

    with django_assert_max_num_queries(5):  # as a quiet evaluation: nothing more
        assert evaluate_all(later(2)) == {policy.pk: "evaluated: no change"}
    assert Incident.objects.get().last_count == 5


def test_disabling_a_policy_resolves_its_open_incidents(policy, search_route, pagerduty):
    from policies.engine import evaluate_all

    add_requests(5, at=later(-1), gateway_team_id="team-search")
    evaluate_all(T0)
    drain(T0)
    policy.enabled = False
    policy.save()

    evaluate_all(later(5))
    drain(later(5))

    incident = Incident.objects.get()
    assert incident.status == "resolved"
    assert incident.events.get(kind="resolved").message == "Resolved: its policy was disabled."
    assert [a for a, _ in pagerduty.actions()] == ["trigger", "resolve"]


def test_a_team_token_without_a_gateway_id_routes_to_the_teams_key(
    make_policy, make_team, make_routing_key, make_route, pagerduty
):
    """Regression: a token bound to a team stamps the team's slug when the team has no
    gateway id, and routing did not look teams up by slug: the page went to the default."""
    team = make_team(slug="search", name="Search")
    make_route(make_routing_key(name="Search on-call"), scope=Route.Scope.TEAM, team=team)
    make_route(make_routing_key(name="Default"), scope=Route.Scope.DEFAULT)
    policy = make_policy(threshold=5, group_by="team")
    add_requests(5, at=later(-1), gateway_team_id="search")

    evaluate(policy, T0)

    incident = Incident.objects.get()
    assert incident.team == team
    assert routed(incident) is not None
    assert routed(incident).name == "Search on-call"


def test_a_team_known_by_alias_owns_requests_without_an_id_only(
    make_policy, make_team, make_routing_key, make_route, pagerduty
):
    """policies/team_key.py: LiteLLM sends a team's id with its alias; an id the console does
    not know is a team of its own, whatever its alias, in the count, the route and the filter
    alike (the filter once took the alias, the route the id)."""
    team = make_team(slug="search", name="Search", gateway_team_alias="Search")
    make_route(make_routing_key(name="Search on-call"), scope=Route.Scope.TEAM, team=team)
    make_route(make_routing_key(name="Default"), scope=Route.Scope.DEFAULT)
    by_team = make_policy(threshold=5, group_by="team")
    scoped = make_policy(name="Search's", threshold=5, filter_team=team)
    add_requests(5, at=later(-1), gateway_team_id="t-9", gateway_team_alias="Search")
    add_requests(5, at=later(-1), gateway_team_alias="Search")

    evaluate(by_team, T0)
    evaluate(scoped, T0)

    incidents = {(i.policy_id, i.group_key): i for i in Incident.objects.all()}
    assert set(incidents) == {(by_team.pk, "t-9"), (by_team.pk, "Search"), (scoped.pk, "")}
    assert incidents[by_team.pk, "t-9"].team is None
    assert routed(incidents[by_team.pk, "t-9"]).name == "Default"
    assert incidents[by_team.pk, "Search"].team == team
    assert routed(incidents[by_team.pk, "Search"]).name == "Search on-call"
    assert incidents[scoped.pk, ""].trigger_count == 5  # the five without an id


def test_a_policy_re_enabled_after_a_pause_does_not_page_for_the_pause(
    policy, search_route, pagerduty
):
    from policies.engine import evaluate_all

    evaluate_all(T0)
    AlertPolicy.objects.filter(pk=policy.pk).update(enabled=False)
    add_requests(5, at=later(600), gateway_team_id="team-search")  # while it was off
    policy.refresh_from_db()
    policy.enabled = True
    with time_machine.travel(later(1800), tick=False):
        policy.save()  # re-enabled at T0 + 30 min

    evaluate_all(later(1805))

    assert not Incident.objects.exists()


def test_an_open_incident_already_there_is_left_alone(policy, search_route, pagerduty, caplog):
    """The database's unique constraint is the last word if two evaluators ever race past the
    lock: the second one logs and skips that group instead of failing the evaluation."""
    from policies.engine import _open
    from policies.evaluation import Action, Count, Decision, GroupState

    add_requests(5, at=later(-1), gateway_team_id="team-search")
    evaluate(policy, T0)
    decision = Decision("team-search", Action.OPEN, Count(5), GroupState(open=True))

    with caplog.at_level("WARNING"):
        _open(policy, decision, T0, later(1))

    assert Incident.objects.count() == 1
    assert "already open" in caplog.text


def test_ops_can_resolve_an_incident_by_hand(
    admin_client, admin_user, policy, search_route, pagerduty
):
    add_requests(5, at=later(-1), gateway_team_id="team-search")
    evaluate(policy, T0)
    drain(T0)
    incident = Incident.objects.get()

    response = admin_client.post(
        "/admin/policies/incident/",
        {"action": "resolve_incidents", "_selected_action": [incident.pk]},
        follow=True,
    )
    drain(timezone.now())

    assert "1 incident resolved." in response.content.decode()
    incident.refresh_from_db()
    assert (incident.status, incident.resolved_by) == ("resolved", admin_user)
    assert incident.events.get(kind="resolved").message == "Resolved by hand by admin."
    assert [a for a, _ in pagerduty.actions()] == ["trigger", "resolve"]


def test_a_platform_wide_incident_takes_the_default_route_not_its_busiest_teams(
    make_policy, make_team, make_routing_key, make_route, pagerduty, ops
):
    """Found by review: an incident of everything was routed, labelled and owned by the key
    alias and team that sent most of its sampled requests."""
    billing = make_team(slug="billing", name="Billing", gateway_team_id="team-billing")
    billing_key = make_routing_key(name="Billing on-call", team=billing)
    make_route(billing_key, scope=Route.Scope.TEAM, team=billing)
    make_route(billing_key, scope=Route.Scope.KEY_ALIAS, key_alias="billing-svc")
    default = make_routing_key(name="Platform on-call", secret=KEY)
    make_route(default, scope=Route.Scope.DEFAULT)
    policy = make_policy(name="Platform failures", threshold=5, window_seconds=60)
    add_requests(
        5, at=later(-5), gateway_team_id="team-billing", key_alias="billing-svc", model="gpt-4o"
    )
    add_requests(2, at=later(-5), gateway_team_id="team-search", key_alias="search-svc")

    evaluate(policy, T0)
    drain(T0)

    incident = Incident.objects.get()
    assert (routed(incident), incident.team, incident.key_alias, incident.model) == (
        default,
        None,
        "",
        "",
    )
    assert (incident.details["busiest_team"], incident.details["busiest_key_alias"]) == (
        "team-billing",
        "billing-svc",
    )
    [event] = pagerduty.events
    assert event["routing_key"] == KEY
    assert "group" not in event["payload"]  # no team owns it
    assert event["payload"]["custom_details"]["busiest_team"] == "team-billing"
    page = ops.get(f"/admin/policies/incident/{incident.pk}/change/").content.decode()
    assert "Most of its requests came from" in page
    assert "team team-billing, key alias billing-svc, model gpt-4o" in page


def test_a_policy_filtered_to_a_team_routes_by_that_team(
    make_policy, search_route, make_routing_key, make_route, pagerduty
):
    make_route(make_routing_key(name="Platform on-call"), scope=Route.Scope.DEFAULT)
    policy = make_policy(
        name="Search failures", threshold=5, window_seconds=60,
        filter_team=search_route.routes.get().team,
    )  # fmt: skip
    add_requests(5, at=later(-5), gateway_team_id="team-search", key_alias="search-svc")

    evaluate(policy, T0)
    drain(T0)

    incident = Incident.objects.get()
    assert (routed(incident), incident.team, incident.key_alias) == (
        search_route,
        policy.filter_team,
        "",
    )


def test_a_tick_with_open_incidents_reads_the_counts_once(policy, search_route, pagerduty):
    """A policy with an open incident is evaluated on its own every tick (its counts move), but
    with the counts just read for all: a read of the counts costs as much for one policy as for
    all of them (the soak run's evaluations took seconds when each was read again)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from policies.engine import evaluate_all

    add_requests(6, at=later(0), gateway_team_id="team-search")
    evaluate_all(later(1))
    assert Incident.objects.filter(status="open").count() == 1
    add_requests(2, at=later(1.5), gateway_team_id="team-search")  # its count moves

    with CaptureQueriesContext(connection) as queries:
        outcomes = evaluate_all(later(2))

    assert outcomes[policy.pk] == "evaluated: team-search peak"  # evaluated on its own
    assert Incident.objects.get(status="open").last_count == 8
    reads = [q["sql"] for q in queries.captured_queries if "ingest_requestrollup" in q["sql"]]
    assert len(reads) == 1
