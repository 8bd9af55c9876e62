"""Turning a request body into the items it carries: a JSON object, a JSON list, or NDJSON.

LiteLLM's generic_api callback posts one of three shapes (its `log_format`): `json_array`
(a list, even of one), `single` (one object) or `ndjson` (one object per line), all with
Content-Type application/json. The shape is recognised from the body itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson


class BodyError(Exception):
    """The body as a whole cannot be read; nothing in it is stored."""


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


def decode_items(body: bytes) -> tuple[list[tuple[int, object]], list[Rejection]]:
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
        return [(0, document)], []
    if isinstance(document, list):
        if not document:
            raise BodyError("the list is empty: there are no events in it")
        return list(enumerate(document)), []
    raise BodyError(
        f"the body must be a JSON object or a list of objects, got {type(document).__name__}"
    )


def _decode_ndjson(body: bytes) -> tuple[list[tuple[int, object]], list[Rejection]]:
    items: list[tuple[int, object]] = []
    rejections: list[Rejection] = []
    lines = [line for line in body.split(b"\n") if line.strip()]
    for index, line in enumerate(lines):
        try:
            items.append((index, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            rejections.append(
                Rejection(index, "body", f"line {index + 1} is not valid JSON: {exc}")
            )
    if not items:
        raise BodyError("the body is not valid JSON, nor JSON lines (NDJSON)")
    return items, rejections
