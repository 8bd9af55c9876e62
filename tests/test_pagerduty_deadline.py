"""Every call to PagerDuty ends within HTTP_TIMEOUT_SECONDS, even against a real server that
answers one byte a second: httpx's timeout bounds each read, and each read gets its byte."""

import time

import pytest

from policies.channels import pagerduty
from tests.e2e.pagerduty_server import PagerDutyServer

DEADLINE = 3.0
MARGIN = 2.0  # the machine may be busy; the trickle alone would take over 40 s
EVENT = {"routing_key": "R0AB" + "d" * 24 + "XY12", "event_action": "resolve", "dedup_key": "x"}


@pytest.fixture
def trickling(settings):
    settings.HTTP_TIMEOUT_SECONDS = DEADLINE
    with PagerDutyServer() as server:
        settings.PAGERDUTY_EVENTS_URL = server.url
        yield server


@pytest.mark.parametrize("part", ["headers", "body"])
def test_an_answer_trickled_a_byte_a_second_is_cut_off_at_the_deadline(trickling, part):
    trickling.trickle(part, 1.0)

    started = time.monotonic()
    answer = pagerduty.post(EVENT)
    took = time.monotonic() - started

    assert took < DEADLINE + MARGIN
    assert answer.http_status is None
    assert not answer.permanent  # retried later, like a timeout
    assert answer.error.startswith("DeadlineExceeded: no complete answer within 3 s")


def test_an_answer_in_time_is_read_whole(trickling):
    trickling.trickle("body", 0.01)

    answer = pagerduty.post(EVENT)

    assert (answer.http_status, answer.error) == (202, "")
    assert '"dedup_key": "x"' in answer.excerpt
