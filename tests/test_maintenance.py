"""Maintenance mode has an end: required, at most 7 days ahead, and it ends by itself, saying
so in its history. Opening its page writes nothing."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from policies.engine import evaluate_all
from policies.models import Maintenance
from policies.muting import Mutes

pytestmark = pytest.mark.django_db

URL = reverse("admin:policies_maintenance_change", args=[1])


def form(ends=None, **fields):
    data = {"enabled": "on", "reason": "database upgrade", **fields}
    if ends is not None:
        data |= {"ends_at_0": f"{ends:%Y-%m-%d}", "ends_at_1": f"{ends:%H:%M:%S}"}
    return data


def test_opening_the_maintenance_page_writes_nothing(ops):
    """Found by review: the first GET created the row, with a "created" in its history."""
    response = ops.get(reverse("admin:policies_maintenance_changelist"), follow=True)

    assert response.status_code == 200
    assert (
        "Maintenance mode is off" in response.content.decode() or not Maintenance.current().enabled
    )
    assert not Maintenance.objects.exists()
    assert not Maintenance.history.exists()


def test_turning_it_on_needs_an_end(ops):
    response = ops.post(URL, form())

    assert response.status_code == 200
    assert "Say when maintenance mode ends" in response.content.decode()
    assert not Maintenance.objects.exists()


def test_it_lasts_at_most_seven_days(ops):
    response = ops.post(URL, form(ends=timezone.now() + timedelta(days=8)))

    assert "Maintenance mode lasts at most 7 days." in response.content.decode()
    assert not Maintenance.current().enabled


def test_turned_on_with_an_end_it_mutes_until_then(ops):
    ends = timezone.now() + timedelta(hours=2)

    assert ops.post(URL, form(ends=ends)).status_code == 302

    maintenance = Maintenance.current()
    assert maintenance.enabled
    assert Mutes.load(timezone.now()).why(_anything()).startswith("maintenance mode is on")
    assert not maintenance.is_active(ends)


def test_it_ends_by_itself_and_says_so_in_its_history(ops):
    ends = timezone.now() + timedelta(minutes=1)
    ops.post(URL, form(ends=ends))

    evaluate_all(ends + timedelta(seconds=1))

    assert not Maintenance.current().enabled
    latest = Maintenance.history.latest("history_date")
    assert (latest.enabled, latest.history_user) == (False, None)
    assert latest.history_change_reason.startswith("ended by itself at its end time")
    page = ops.get(URL).content.decode()
    assert "ended by itself at its end time" in page
    assert 'id="maintenance-banner"' not in page


def _anything():
    from policies.models import Subject

    return Subject(policy_id=0, team_id=None, key_alias="", model="")
