"""A fake Teams Workflows webhook (Power Automate's "When a Teams webhook request is received")
that checks the contract and can be told to fail.

It answers like the real one: 202 with an empty body for a message it can post; 401 for a
wrong signature (``sig=``); 400 for a body the flow could not post: not JSON, not
``application/json``, no ``attachments`` array, an attachment that is not an Adaptive Card of
version 1.5 or lower, a card element it cannot read, or a message over Teams' 28 KB.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

SIZE_LIMIT = 28 * 1024
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
COLOURS = {"default", "dark", "light", "accent", "good", "warning", "attention"}
ELEMENTS = {"TextBlock", "FactSet", "Container", "ColumnSet", "Image", "RichTextBlock"}
HOST = "prod-12.westeurope.logic.azure.com"
PATH = "/workflows/5b1e0c2f9a7d4e3b8c6f1a2d3e4f5a6b/triggers/manual/paths/invoke"


def version_of(value: Any) -> tuple[int, ...] | None:
    if not isinstance(value, str):
        return None
    try:
        return tuple(int(part) for part in value.split("."))
    except ValueError:
        return None


def element_errors(element: Any, where: str) -> list[str]:
    if not isinstance(element, dict) or element.get("type") not in ELEMENTS:
        return [f"{where}: not an Adaptive Card element"]
    errors = []
    if element["type"] == "TextBlock":
        if not isinstance(element.get("text"), str):
            errors.append(f"{where}: TextBlock without text")
        if "color" in element and element["color"] not in COLOURS:
            errors.append(f"{where}: no colour {element['color']!r}")
    if element["type"] == "FactSet":
        facts = element.get("facts")
        if not isinstance(facts, list) or not all(
            isinstance(fact, dict)
            and isinstance(fact.get("title"), str)
            and isinstance(fact.get("value"), str)
            for fact in facts
        ):
            errors.append(f"{where}: facts must be title/value strings")
    return errors


def card_errors(message: Any) -> list[str]:
    """What the Workflows template's "Post card in a chat or channel" step would fail on."""
    if not isinstance(message, dict):
        return ["the body must be an object"]
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return ["The 'from' property value in the 'foreach' action is of type 'Null'"]
    errors = []
    for n, attachment in enumerate(attachments):
        if not isinstance(attachment, dict) or attachment.get("contentType") != CARD_TYPE:
            errors.append(f"attachment {n}: contentType must be {CARD_TYPE}")
            continue
        card = attachment.get("content")
        if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
            errors.append(f"attachment {n}: content must be an AdaptiveCard")
            continue
        version = version_of(card.get("version"))
        if version is None or version > (1, 5):
            errors.append(f"attachment {n}: card version {card.get('version')!r} (Teams: ≤ 1.5)")
        body = card.get("body", [])
        if not isinstance(body, list):
            errors.append(f"attachment {n}: body must be a list")
            body = []
        for i, element in enumerate(body):
            errors += element_errors(element, f"attachment {n} body {i}")
        for i, action in enumerate(card.get("actions", [])):
            url = action.get("url") if isinstance(action, dict) else None
            if (
                not isinstance(action, dict)
                or action.get("type") != "Action.OpenUrl"
                or not isinstance(action.get("title"), str)
                or not isinstance(url, str)
                or not url.startswith(("https://", "http://"))
            ):
                errors.append(f"attachment {n} action {i}: Action.OpenUrl needs title and url")
    return errors


def failure(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@dataclass
class FakeTeams:
    sig: str = "Q3s9dE1xk0aZ-7fWbN4uYhV2mLpT8rGcJ5oK6iA0sXw"
    bodies: list[dict[str, Any]] = field(default_factory=list)  # accepted messages, in order
    refused: list[tuple[int, list[str]]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)  # of every request
    # Scripted answers, used first-in first-out before the normal behaviour: an int status,
    # (status, headers, json-body), or an exception instance to raise.
    script: deque[Any] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, host: str = HOST) -> str:
        return (
            f"https://{host}:443{PATH}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun"
            f"&sv=1.0&sig={self.sig}"
        )

    @property
    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards posted, in order."""
        return [a["content"] for body in self.bodies for a in body["attachments"]]

    def titles(self) -> list[str]:
        return [card["body"][0]["text"] for card in self.cards]

    def handle(self, request: httpx.Request) -> httpx.Response:
        """For httpx.MockTransport."""
        status, headers, body = self.answer(request)
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def answer(self, request: httpx.Request) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.content_types.append(request.headers.get("Content-Type", ""))
            scripted = self.script.popleft() if self.script else None
        if isinstance(scripted, BaseException):
            raise scripted
        if isinstance(scripted, tuple):
            return scripted
        if scripted is not None:
            return scripted, {}, failure("Scripted", f"scripted {scripted}")
        if request.method != "POST":
            return 405, {}, failure("MethodNotAllowed", "The trigger takes POST only.")
        if parse_qs(request.url.query.decode()).get("sig") != [self.sig]:
            return 401, {}, failure("DirectApiInvalidAuthorizationSignature", "bad signature")
        content = request.read()
        errors = self.refusals(request, content)
        with self.lock:
            if errors:
                self.refused.append((400, errors))
                return 400, {}, failure("InvalidRequestContent", "; ".join(errors))
            self.bodies.append(json.loads(content))
        return 202, {}, None

    def refusals(self, request: httpx.Request, content: bytes) -> list[str]:
        media_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return [f"the request's Content-Type is {media_type!r}, not application/json"]
        if len(content) > SIZE_LIMIT:
            return [f"the message is {len(content)} bytes, over Teams' 28 KB"]
        try:
            message = json.loads(content)
        except ValueError:
            return ["the body is not JSON"]
        return card_errors(message)
