"""Turning a request body into the items it carries: a JSON object, a JSON list, or NDJSON.

LiteLLM's generic_api callback posts one of three shapes (its `log_format`): `json_array`
(a list, even of one), `single` (one object) or `ndjson` (one object per line), all with
Content-Type application/json. The shape is recognised from the body itself.
"""

from __future__ import annotations

import heapq
import io
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

# An answer lists at most this many refused items, and counts the rest: a 16 MB body of
# invalid items would otherwise be answered with hundreds of megabytes of reasons.
REJECTIONS_LISTED = 100


class BodyError(Exception):
    """The body as a whole cannot be read; nothing in it is stored."""


@dataclass(frozen=True, slots=True, order=True)
class Rejection:
    index: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


class Rejections:
    """The items of one body that were refused: the first ``listed`` by index, and a count.

    Items may be refused in any order (bad NDJSON lines first, then invalid events); the
    ones kept are always those with the lowest indexes, in O(log listed) work per item."""

    def __init__(self, listed: int = REJECTIONS_LISTED) -> None:
        self.listed = listed
        self.total = 0
        self._kept: list[tuple[int, Rejection]] = []  # a heap of (-index, ...): highest on top

    def add(self, index: int, field: str, reason: str) -> None:
        self.total += 1
        if len(self._kept) < self.listed:
            heapq.heappush(self._kept, (-index, Rejection(index, field, reason)))
        elif self._kept and index < -self._kept[0][0]:
            heapq.heapreplace(self._kept, (-index, Rejection(index, field, reason)))

    def as_answer(self) -> dict[str, object]:
        """``rejected``: the listed ones by index; past the limit, how many in all and unlisted."""
        listed = sorted(rejection for _, rejection in self._kept)
        answer: dict[str, object] = {"rejected": [r.as_dict() for r in listed]}
        if self.total > len(listed):
            answer["rejected_total"] = self.total
            answer["rejected_omitted"] = self.total - len(listed)
        return answer


def decode_items(body: bytes) -> tuple[Iterable[tuple[int, object]], Rejections]:
    """The items of the body with their index, and the NDJSON lines that were not JSON."""
    if not body.strip():
        raise BodyError("the body is empty: send a JSON object or a list of objects")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if b"\n" not in body.strip():
            raise BodyError(f"the body is not valid JSON: {exc}") from None
        return _decode_ndjson(body)
    if isinstance(document, dict):
        return [(0, document)], Rejections()
    if isinstance(document, list):
        if not document:
            raise BodyError("the list is empty: there are no events in it")
        # Not a list of pairs: millions of tiny items would take ten times the body's memory.
        return enumerate(document), Rejections()
    raise BodyError(
        f"the body must be a JSON object or a list of objects, got {type(document).__name__}"
    )


def _decode_ndjson(body: bytes) -> tuple[list[tuple[int, object]], Rejections]:
    items: list[tuple[int, object]] = []
    rejections = Rejections()
    index = 0
    for line in io.BytesIO(body):  # one line at a time, not a list of them all
        if not line.strip():
            continue
        try:
            items.append((index, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            rejections.add(index, "body", f"line {index + 1} is not valid JSON: {exc}")
        index += 1
    if not items:
        raise BodyError("the body is not valid JSON, nor JSON lines (NDJSON)")
    return items, rejections
