"""Whether a trigger may have reached PagerDuty decides, when its incident resolves first,
between cancelling it and sending only the resolve."""

import pytest

from policies.reach import may_have_reached


@pytest.mark.parametrize(
    ("claims", "recorded", "expected"),
    [
        (0, [], False),  # never tried
        (2, [(None, "ConnectError: refused"), (None, "ConnectTimeout: timed out")], False),
        (1, [(400, "")], False),  # refused: not taken
        (1, [(429, "")], False),  # "not now": not taken
        (1, [(202, "")], True),
        (1, [(503, "")], True),  # a 5xx after the body went out
        (1, [(None, "ReadTimeout: timed out")], True),
        (1, [(None, "DeadlineExceeded: no complete answer within 10 s")], True),
        (2, [(None, "ConnectError: refused")], True),  # the second call in flight, or died
    ],
)
def test_only_a_call_that_certainly_sent_nothing_or_was_refused_reached_nobody(
    claims, recorded, expected
):
    assert may_have_reached(claims, recorded) is expected
