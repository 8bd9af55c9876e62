"""Alert policies in the admin: the form explains and validates, the actions count changes."""

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from policies.models import AlertPolicy
from tests.admin_helpers import assert_error_on_field

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:policies_alertpolicy_add")
LIST_URL = reverse("admin:policies_alertpolicy_changelist")


def form_data(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Gateway failing",
        "kind": "failures",
        "threshold": "60",
        "window_seconds": "60",
        "duration_seconds": "",
        "failure_rate_percent": "",
        "min_requests": "20",
        "consecutive_breaches": "1",
        "resolve_threshold": "",
        "resolve_hold_seconds": "60",
        "renotify_seconds": "",
        "group_by": "everything",
        "filter_team": "",
        "filter_key_alias": "",
        "filter_model": "",
        "severity": "critical",
        "runbook_url": "",
        "description": "",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def initial_of(response: Any) -> dict[str, Any]:
    form = response.context["adminform"].form
    return {name: form[name].value() for name in ("kind", "threshold", "window_seconds")} | {
        "duration_seconds": form["duration_seconds"].value()
    }


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_list_describes_each_policy_in_words(ops, make_policy, make_team):
    make_policy(name="Search hangs", kind="hung", duration_seconds=60, window_seconds=600)
    make_policy(name="Checkout slow", kind="slow", duration_seconds=300, filter_team=make_team())

    html = ops.get(LIST_URL).content.decode()

    assert "60 hung (&gt; 60 s) within 600 s" in html
    assert "60 slow (&gt; 300 s) within 60 s" in html


def test_the_add_page_starts_from_the_failures_defaults(ops):
    response = ops.get(ADD_URL)

    assert initial_of(response) == {
        "kind": "failures",
        "threshold": "60",
        "window_seconds": "60",
        "duration_seconds": None,
    }


def test_the_hung_add_page_is_prefilled_with_60_600_60(ops):
    response = ops.get(ADD_URL, {"kind": "hung"})

    assert initial_of(response) == {
        "kind": "hung",
        "threshold": "60",
        "window_seconds": "600",
        "duration_seconds": "60",
    }
    html = response.content.decode()
    assert 'name="window_seconds" value="600"' in html
    assert 'name="duration_seconds" value="60"' in html


def test_the_slow_add_page_is_prefilled_with_litellms_alerting_threshold(ops):
    response = ops.get(ADD_URL, {"kind": "slow"})

    assert initial_of(response) == {
        "kind": "slow",
        "threshold": "10",
        "window_seconds": "600",
        "duration_seconds": "300",
    }


def test_an_unknown_kind_in_the_query_string_falls_back_to_failures(ops):
    response = ops.get(ADD_URL, {"kind": "bogus"})

    assert initial_of(response)["kind"] == "failures"


def test_the_add_page_links_to_each_kinds_defaults(ops):
    html = ops.get(ADD_URL).content.decode()

    for kind in ("failures", "hung", "slow"):
        assert f'<a href="?kind={kind}" data-policy-defaults="{kind}">{kind}</a>' in html


def test_a_hung_policy_without_t_shows_the_error_on_duration_and_creates_nothing(ops):
    response = ops.post(ADD_URL, form_data(kind="hung", duration_seconds=""))

    assert_error_on_field(
        response,
        "duration_seconds",
        "A hung policy needs T: after how many seconds a request counts as hung.",
    )
    assert not AlertPolicy.objects.exists()


def test_a_failures_policy_with_t_shows_the_error_on_duration(ops):
    response = ops.post(ADD_URL, form_data(duration_seconds="30"))

    assert_error_on_field(
        response,
        "duration_seconds",
        "Only hung, slow, latency percentile and time-to-first-token percentile policies use T; "
        "leave it empty.",
    )
    assert not AlertPolicy.objects.exists()


def test_a_window_over_seven_days_is_refused_on_its_field(ops):
    response = ops.post(ADD_URL, form_data(window_seconds="604801"))

    assert_error_on_field(
        response, "window_seconds", "The window can be at most 7 days (604800 s)."
    )
    assert not AlertPolicy.objects.exists()


def test_adding_a_hung_policy_through_the_form_works(ops, make_team):
    team = make_team()
    response = ops.post(
        ADD_URL,
        form_data(
            name="Search hangs",
            kind="hung",
            threshold="5",
            window_seconds="600",
            duration_seconds="60",
            group_by="model",
            filter_team=str(team.pk),
        ),
    )

    assert response.status_code == 302
    policy = AlertPolicy.objects.get()
    assert (policy.kind, policy.threshold, policy.window_seconds) == ("hung", 5, 600)
    assert (policy.duration_seconds, policy.group_by, policy.filter_team) == (60.0, "model", team)
    assert policy.enabled


def run_action(client: Client, action: str, policies: list[AlertPolicy]) -> Any:
    return client.post(
        LIST_URL,
        {"action": action, "_selected_action": [str(p.pk) for p in policies]},
        follow=True,
    )


def test_enabling_changes_only_the_selected_rows_and_reports_the_count(ops, make_policy):
    selected = [make_policy(enabled=False) for _ in range(3)]
    other = make_policy(enabled=False)

    response = run_action(ops, "enable_policies", selected)

    assert messages_of(response) == ["3 policies enabled."]
    assert set(AlertPolicy.objects.filter(enabled=True)) == set(selected)
    other.refresh_from_db()
    assert not other.enabled


def test_disabling_counts_only_the_rows_that_changed(ops, make_policy):
    enabled = make_policy(enabled=True)
    already_disabled = make_policy(enabled=False)
    untouched = make_policy(enabled=True)
    before = AlertPolicy.objects.get(pk=already_disabled.pk).updated_at

    response = run_action(ops, "disable_policies", [enabled, already_disabled])

    assert messages_of(response) == ["1 policy disabled. 1 policy already was."]
    assert list(AlertPolicy.objects.filter(enabled=True)) == [untouched]
    assert AlertPolicy.objects.get(pk=already_disabled.pk).updated_at == before


def test_an_action_that_changes_nothing_says_so(ops, make_policy):
    policies = [make_policy(enabled=True), make_policy(enabled=True)]

    response = run_action(ops, "enable_policies", policies)

    assert messages_of(response) == ["0 policies enabled. 2 policies already were."]


def test_an_action_is_recorded_in_each_changed_policys_history(ops, make_policy, staff_user):
    enabled = make_policy(enabled=True)
    already_disabled = make_policy(enabled=False)

    run_action(ops, "disable_policies", [enabled, already_disabled])

    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.user) == (str(enabled.pk), staff_user)
    assert entry.get_change_message() == "Changed Enabled."


def test_the_list_can_be_filtered_by_state_and_kind(ops, make_policy):
    make_policy(name="on", enabled=True)
    make_policy(name="off", enabled=False)
    make_policy(name="hung off", enabled=False, kind="hung", duration_seconds=60)

    response = ops.get(LIST_URL, {"enabled__exact": "0", "kind__exact": "hung"})

    assert [p.name for p in response.context["cl"].result_list] == ["hung off"]


def test_enabling_every_policy_of_a_filtered_list_at_once_works(ops, make_policy, make_team):
    team = make_team()
    scoped = [make_policy(enabled=False, filter_team=team) for _ in range(2)]
    other = make_policy(enabled=False)

    response = ops.post(
        f"{LIST_URL}?filter_team__id__exact={team.pk}",
        {"action": "enable_policies", "select_across": "1", "_selected_action": [scoped[0].pk]},
        follow=True,
    )

    assert messages_of(response) == ["2 policies enabled."]
    assert set(AlertPolicy.objects.filter(enabled=True)) == set(scoped)
    other.refresh_from_db()
    assert not other.enabled


def test_people_who_may_only_view_policies_get_no_enable_or_disable_action(client, make_policy):
    viewer = User.objects.create_user("viewer", password="a-long-test-password", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_alertpolicy"))
    client.force_login(viewer)
    policy = make_policy(enabled=False)

    response = run_action(client, "enable_policies", [policy])

    assert "enable_policies" not in response.content.decode()
    policy.refresh_from_db()
    assert not policy.enabled


def test_a_runbook_link_without_a_scheme_is_taken_as_https(ops):
    ops.post(ADD_URL, form_data(runbook_url="wiki.example.com/runbooks/gateway"))

    assert AlertPolicy.objects.get().runbook_url == "https://wiki.example.com/runbooks/gateway"


def test_the_form_carries_each_kinds_fields_and_defaults_for_its_script(ops):
    import json
    import re

    html = ops.get("/admin/policies/alertpolicy/add/").content.decode()

    found = re.search(r'id="policy-kinds" data-kinds="([^"]*)"', html)
    assert found
    spec = json.loads(found.group(1).replace("&quot;", '"'))
    assert spec["hung"]["fields"] == ["duration_seconds", "critical_threshold"]
    assert spec["hung"]["defaults"] == {
        "threshold": 60, "window_seconds": 600, "duration_seconds": 60.0,
        "group_by": "everything", "severity": "critical",
    }  # fmt: skip
    assert spec["deployment_outage"]["defaults"] == {
        "threshold": 5, "window_seconds": 60, "critical_threshold": 10,
        "group_by": "deployment", "severity": "warning",
    }  # fmt: skip
    assert spec["failure_rate"]["fields"][:3] == [
        "failure_rate_percent", "min_requests", "critical_failure_rate_percent"
    ]  # fmt: skip
    assert spec["failures"]["empty_otherwise"] == [
        "critical_threshold", "duration_seconds", "failure_rate_percent",
        "critical_failure_rate_percent", "percentile", "critical_duration_seconds", "budget",
        "budget_unit", "budget_period", "budget_warning_percents", "budget_time_zone",
    ]  # fmt: skip
    # A budget's first level is its X: the form hides X and offers LiteLLM's levels.
    assert spec["budget"]["hides"] == ["threshold"]
    assert spec["budget"]["defaults"] == {
        "threshold": 85, "window_seconds": 86400, "group_by": "team", "severity": "warning",
        "budget_unit": "usd", "budget_period": "month", "budget_time_zone": "UTC",
        "budget_warning_percents": "85, 95",
    }  # fmt: skip
    assert spec["latency_percentile"]["fields"] == [
        "duration_seconds", "percentile", "min_requests", "critical_duration_seconds"
    ]  # fmt: skip
    assert "policies/policy_form.js" in html
    assert 'data-policy-defaults="slow"' in html
