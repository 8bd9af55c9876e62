"""What an answer says about refused items stays small, however many there are: the first
hundred by index, with a count of the rest, and each reason quotes only the start of a value.
A 16.7 MB body of invalid items once got a 682 MB answer and took 5 GB of memory."""

import json
import tracemalloc

import pytest

from ingest.bodies import REJECTIONS_LISTED
from ingest.models import GatewayRequest
from tests.ingest_client import EVENTS_URL, LITELLM_URL, post
from tests.litellm_fixtures import JUST_AFTER_RECORDING

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("at_recording")]

NOW = JUST_AFTER_RECORDING.timestamp()


def started(request_id):
    return {"event": "started", "request_id": request_id, "started_at": NOW - 1}


def post_measuring_memory(client, url, body, token):
    """The answer, and the most memory Python held at once while the console made it."""
    tracemalloc.start()
    try:
        answer = post(client, url, body, token)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return answer, peak


@pytest.mark.parametrize("url", [EVENTS_URL, LITELLM_URL])
def test_a_body_of_invalid_items_lists_the_first_hundred_and_counts_the_rest(client, token, url):
    count = 200_000
    body = json.dumps([0] * count, separators=(",", ":"))  # "[0,0,...": 2 bytes an item

    answer, peak = post_measuring_memory(client, url, body, token)

    assert answer.status_code == 400
    reply = answer.json()
    assert [r["index"] for r in reply["rejected"]] == list(range(REJECTIONS_LISTED))
    assert reply["rejected"][0] == {
        "index": 0, "field": "event", "reason": "must be a JSON object, got int",
    }  # fmt: skip
    assert reply["rejected_total"] == count
    assert reply["rejected_omitted"] == count - REJECTIONS_LISTED
    assert len(answer.content) < 10_000  # once 40 times the body's 400 KB
    # Memory grows with the body: decoding it takes some 16 times its size here (a pointer of
    # 8 bytes per 2-byte item, in a list grown by doubling), then no more per refused item
    # than a few counters. It was some 300 times the body's size: a record, a dict and an
    # answer line for every item.
    assert peak < 40 * len(body)


def test_the_answer_is_the_same_size_for_ten_times_more_invalid_items(client, token):
    small = post(client, EVENTS_URL, json.dumps([0] * 10_000), token)
    large = post(client, EVENTS_URL, json.dumps([0] * 100_000), token)

    assert large.json()["rejected"] == small.json()["rejected"]
    assert len(large.content) - len(small.content) <= 2  # the counts' extra digit each


def test_the_lowest_indexes_are_listed_whichever_step_refused_them(client, token):
    # NDJSON: a line that is not JSON is refused while decoding, an invalid event while
    # parsing, after all lines are read; the listed ones are still the first by index.
    lines = []
    for i in range(300):
        kind = i % 3
        lines.append(
            "{not json"
            if kind == 0
            else json.dumps({"event": "bogus"} if kind == 1 else started(f"r{i}"))
        )

    answer = post(client, EVENTS_URL, "\n".join(lines), token, "application/x-ndjson")

    assert answer.status_code == 200
    reply = answer.json()
    assert reply["accepted"] == 100
    listed = [(r["index"], r["field"]) for r in reply["rejected"]]
    expected = [(i, "body" if i % 3 == 0 else "event") for i in range(300) if i % 3 != 2]
    assert listed == expected[:REJECTIONS_LISTED]
    assert (reply["rejected_total"], reply["rejected_omitted"]) == (200, 100)
    assert GatewayRequest.objects.count() == 100


def test_up_to_a_hundred_refused_items_answer_as_before_and_one_more_is_counted(client, token):
    bogus = {"event": "bogus"}

    at_limit = post(client, EVENTS_URL, [started("a")] + [bogus] * REJECTIONS_LISTED, token)
    past_it = post(client, EVENTS_URL, [started("b")] + [bogus] * (REJECTIONS_LISTED + 1), token)

    assert set(at_limit.json()) == {"accepted", "rejected"}
    assert len(at_limit.json()["rejected"]) == REJECTIONS_LISTED
    assert past_it.json()["rejected_total"] == REJECTIONS_LISTED + 1
    assert past_it.json()["rejected_omitted"] == 1
    assert past_it.json()["rejected"][-1]["index"] == REJECTIONS_LISTED
    assert past_it.json()["accepted"] == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status_code", "9" * 1_000_000),
        ("started_at", "x" * 1_000_000),
        ("status_code", [[0] * 100_000]),
    ],
)
def test_a_huge_value_is_quoted_by_its_start_only(client, token, field, value):
    item = {"event": "finished", "request_id": "r1", "status": "failure", field: value}

    answer = post(client, EVENTS_URL, [item], token)

    assert answer.status_code == 400
    [rejection] = answer.json()["rejected"]
    assert rejection["field"] == field
    assert len(rejection["reason"]) < 150
