"""One definition of a request's team (policies/team_key.py), and every place that uses it
agreeing with it: the policies' filter, the group of a policy grouped by team and the team an
incident of that group is routed to, and the home page's index."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ingest.models import GatewayRequest
from policies import team_key
from policies.counting import count_all
from policies.models import AlertPolicy, Team
from policies.team_key import TeamIndex, key_of, keys_of
from tests.counting_scenario import NOW


@dataclass
class Configured:
    gateway_team_id: str = ""
    slug: str = ""
    gateway_team_alias: str = ""


def test_a_request_s_key_is_its_team_id_else_its_alias():
    assert key_of("t-1", "Search") == "t-1"
    assert key_of("", "Search") == "Search"
    assert key_of("t-1", "") == "t-1"
    assert key_of("", "") == ""


def test_a_team_owns_its_id_slug_and_alias_strongest_first_once_each():
    assert keys_of(Configured("t-1", "search", "Search")) == ["t-1", "search", "Search"]
    assert keys_of(Configured("", "search", "")) == ["search"]
    assert keys_of(Configured("search", "search", "")) == ["search"]


def test_the_index_finds_a_team_by_id_by_slug_and_by_alias_only_without_an_id():
    index = TeamIndex([(1, Configured("t-1", "search", "Search")), (2, Configured("", "ads", ""))])

    assert index.find("t-1", "") == 1
    assert index.find("t-1", "Anything") == 1
    assert index.find("search", "") == 1  # a token bound to the team stamps its slug
    assert index.find("", "Search") == 1
    assert index.find("ads", "") == 2
    # LiteLLM sent an id no team has: the alias does not claim the request.
    assert index.find("t-9", "Search") is None
    assert index.find("", "") is None
    assert index.find("", "Unknown") is None


def test_when_two_teams_claim_a_key_an_id_beats_a_slug_and_a_slug_an_alias():
    # Rows saved before the console forbade it.
    index = TeamIndex(
        [
            (1, Configured("", "one", "shared")),
            (2, Configured("", "shared", "")),
            (3, Configured("shared", "three", "")),
        ]
    )
    assert index.owner("shared") == 3
    assert (
        TeamIndex([(1, Configured("", "one", "x")), (2, Configured("", "x", ""))]).owner("x") == 2
    )
    assert index.owner("one") == 1


@pytest.mark.django_db
def test_owning_follows_the_same_precedence_in_the_database():
    alias_only = Team.objects.create(name="A", slug="a", gateway_team_alias="shared")
    assert Team.objects.owning("shared") == alias_only
    by_slug = Team.objects.create(name="B", slug="shared")
    assert Team.objects.owning("shared") == by_slug
    by_id = Team.objects.create(name="C", slug="c", gateway_team_id="shared")
    assert Team.objects.owning("shared") == by_id
    assert Team.objects.owning("a") == alias_only
    assert Team.objects.owning("") is None
    assert Team.objects.owning("nobody") is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "theirs"),
    [
        ("gateway_team_alias", "t-1", "gateway team id"),
        ("gateway_team_id", "search", "slug"),
        ("slug", "search-alias", "gateway team alias"),
    ],
)
def test_a_team_may_not_claim_a_key_another_team_owns(field, value, theirs):
    Team.objects.create(
        name="Search", slug="search", gateway_team_id="t-1", gateway_team_alias="search-alias"
    )
    other = Team(**{"name": "Ads", "slug": "ads", field: value})

    with pytest.raises(ValidationError) as raised:
        other.full_clean()

    assert list(raised.value.message_dict) == [field]
    assert f"Team “Search” has “{value}” as its {theirs}" in raised.value.message_dict[field][0]


@pytest.mark.django_db
def test_a_team_may_use_one_value_in_several_of_its_own_fields():
    team = Team.objects.create(name="Search", slug="search", gateway_team_id="search")
    team.gateway_team_alias = "search"

    team.full_clean()  # no error: it names one team


KEYS = ["", "a", "b", "c", "d"]
SENT = [*KEYS, "e"]  # "e": a key no team has


@st.composite
def teams(draw):
    drawn = []
    for n in range(draw(st.integers(min_value=1, max_value=3))):
        drawn.append(
            Team(
                name=f"Team {n}",
                slug=draw(st.sampled_from(KEYS[1:])),
                gateway_team_id=draw(st.sampled_from(KEYS)),
                gateway_team_alias=draw(st.sampled_from(KEYS)),
            )
        )
    return drawn


def _valid(drawn):
    """No key claimed by two teams (what Team.validate_constraints enforces)."""
    owners: dict[str, int] = {}
    for n, team in enumerate(drawn):
        for key in keys_of(team):
            if owners.setdefault(key, n) != n:
                return False
    return True


pairs = st.tuples(st.sampled_from(SENT), st.sampled_from(SENT))


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=teams(), sent=st.lists(pairs, min_size=1, max_size=12))
def test_filter_grouping_routing_and_the_home_page_agree_on_every_request(drawn, sent):
    assume(_valid(drawn))
    with transaction.atomic():
        _agree(drawn, sent)
        transaction.set_rollback(True)


def _agree(drawn, sent):
    for team in drawn:
        team.save()
    GatewayRequest.objects.bulk_create(
        GatewayRequest(
            source="gw",
            request_id=f"r{n}",
            started_at=NOW - timedelta(seconds=2),
            finished_at=NOW - timedelta(seconds=1),
            outcome="failure",
            failure_class="upstream",
            latency_seconds=1.0,
            gateway_team_id=team_id,
            gateway_team_alias=alias,
            received_at=NOW,
        )
        for n, (team_id, alias) in enumerate(sent)
    )
    index = TeamIndex((team.pk, team) for team in drawn)
    expected = {f"r{n}": index.find(team_id, alias) for n, (team_id, alias) in enumerate(sent)}

    # The filter of a policy scoped to a team, as counting and the request list apply it.
    for team in drawn:
        sql, params = team_key.condition(team)
        selected = GatewayRequest.objects.filter(
            RawSQL(sql, params, output_field=BooleanField())  # noqa: S611
        ).values_list("request_id", flat=True)
        assert set(selected) == {r for r, owner in expected.items() if owner == team.pk}

    # The groups of a policy grouped by team, and the team each group's incident is routed to.
    policy = AlertPolicy.objects.create(
        name="by team", kind="failures", threshold=1, window_seconds=60, group_by="team"
    )
    groups = count_all([policy], NOW)[policy.pk]
    assert {group: count.matched for group, count in groups.items()} == {
        key: sum(1 for pair in sent if key_of(*pair) == key) for key in {key_of(*p) for p in sent}
    }
    for group in groups:
        owner = Team.objects.owning(group)
        assert (owner.pk if owner else None) == index.owner(group)
        assert {expected[f"r{n}"] for n, pair in enumerate(sent) if key_of(*pair) == group} == {
            index.owner(group)
        }
