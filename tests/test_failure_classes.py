"""Each failure is classified so policies can choose what counts; checked on real LiteLLM bodies."""

import pytest

from ingest.classify import FailureClass, classify_failure, parse_status_code
from ingest.litellm import parse_litellm_payload
from tests.litellm_fixtures import JUST_AFTER_RECORDING, load

SDK_BATCH = load("sdk_batch_7_events")


def classified(payload):
    return parse_litellm_payload(payload, JUST_AFTER_RECORDING).failure_class


def test_a_vendor_rate_limit_is_an_upstream_failure():
    assert classified(load("proxy_keyed_failure_429")) == "upstream"


def test_a_provider_503_is_an_upstream_failure():
    assert classified(load("proxy_upstream_503")) == "upstream"


def test_a_provider_500_and_a_timeout_are_upstream_failures():
    assert [classified(SDK_BATCH[i]) for i in (2, 4, 6)] == ["upstream"] * 3
    assert SDK_BATCH[6]["error_information"]["error_class"] == "Timeout"


def test_the_proxy_refusing_a_bad_key_is_a_gateway_rejection():
    assert classified(load("proxy_rejected_bad_key")) == "gateway"


def test_a_bad_request_from_the_client_is_a_client_error():
    assert SDK_BATCH[5]["error_information"]["error_class"] == "BadRequestError"
    assert classified(SDK_BATCH[5]) == "client"


def test_successes_have_no_failure_class():
    assert classified(load("proxy_keyed_success")) == ""
    assert classified(load("proxy_slow_success_5s")) == ""


@pytest.mark.parametrize(
    ("code", "error_class", "category", "expected"),
    [
        (429, "RateLimitError", "vendor_rate_limit", FailureClass.UPSTREAM),
        (429, "RateLimitError", "litellm_rate_limit", FailureClass.GATEWAY),
        (401, "ProxyException", "", FailureClass.GATEWAY),
        (400, "BudgetExceededError", "", FailureClass.GATEWAY),
        (None, "Timeout", "", FailureClass.UPSTREAM),
        (None, "APIConnectionError", "", FailureClass.UPSTREAM),
        (408, "", "", FailureClass.UPSTREAM),
        (502, "", "", FailureClass.UPSTREAM),
        (404, "NotFoundError", "", FailureClass.CLIENT),
        (422, "UnprocessableEntityError", "", FailureClass.CLIENT),
        (None, "SomethingNew", "", FailureClass.UPSTREAM),
    ],
)
def test_the_classification_rules(code, error_class, category, expected):
    assert classify_failure(code, error_class, category) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("429", 429),
        (503, 503),
        (" 500 ", 500),
        ("", None),
        ("abc", None),
        (True, None),
        (99, None),
        (600, None),
        (None, None),
    ],
)
def test_status_codes_are_read_from_strings_or_numbers(raw, expected):
    assert parse_status_code(raw) == expected
