"""Which side of the gateway a failed request failed on.

Policies count upstream failures by default, because those are the ones an on-call engineer
can act on at 3 a.m.; a gateway that refuses a bad key, or a client that sends a bad request,
is not an outage. The rules, in order:

1. gateway rejection: the gateway refused the request itself (LiteLLM's ``ProxyException``,
   its budget errors, or a rate limit of its own: ``error_rate_limit_category`` is
   ``litellm_rate_limit``);
2. upstream failure: the provider failed: a 5xx, a timeout (408 or a ``Timeout`` class), a
   connection error, or a rate limit by the vendor (429);
3. client error: any other 4xx (a bad request, a content-policy refusal, an unknown model);
4. anything else (no code at all, an unknown class) counts as upstream: when in doubt, page.
"""

from __future__ import annotations

from enum import StrEnum


class FailureClass(StrEnum):
    UPSTREAM = "upstream"
    GATEWAY = "gateway"
    CLIENT = "client"


GATEWAY_ERROR_CLASSES = frozenset({"ProxyException", "BudgetExceededError"})
TIMEOUT_ERROR_CLASSES = frozenset({"Timeout", "APITimeoutError", "ReadTimeout", "TimeoutError"})
CONNECTION_ERROR_CLASSES = frozenset({"APIConnectionError", "ServiceUnavailableError"})


def _ascii_digits(text: str, most: int) -> bool:
    # str.isdigit() is true for "²" too, which int() refuses.
    return 0 < len(text) <= most and text.isascii() and text.isdigit()


def parse_status_code(raw: object) -> int | None:
    """LiteLLM sends the code as a string ("429"), sometimes empty; we accept ints too."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        code = raw
    elif isinstance(raw, str) and _ascii_digits(raw.strip(), 3):
        code = int(raw.strip())
    else:
        return None
    return code if 100 <= code <= 599 else None


def classify_failure(
    status_code: int | None, error_class: str = "", rate_limit_category: str = ""
) -> FailureClass:
    if error_class in GATEWAY_ERROR_CLASSES or rate_limit_category == "litellm_rate_limit":
        return FailureClass.GATEWAY
    if error_class in TIMEOUT_ERROR_CLASSES or error_class in CONNECTION_ERROR_CLASSES:
        return FailureClass.UPSTREAM
    if status_code is None or status_code >= 500 or status_code in (408, 429):
        return FailureClass.UPSTREAM
    if 400 <= status_code < 500:
        return FailureClass.CLIENT
    return FailureClass.UPSTREAM
