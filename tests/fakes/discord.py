"""A fake Discord webhook API that checks the contract and can be told to fail.

It answers like Discord: executing a registered webhook stores the message and answers 200
with it (``?wait=true``) or 204; ``PATCH .../messages/{id}`` edits a stored message; an unknown
webhook id is 404 ``Unknown Webhook`` (10015), a wrong token 401 ``Invalid Webhook Token``
(50027), an unknown message 404 ``Unknown Message`` (10008); a body over the embed limits is
400 ``Invalid Form Body`` (50035), an empty message 400 (50006).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

HOSTS = ("discord.com", "discordapp.com")
PATH_RE = re.compile(
    r"/api(?:/v\d+)?/webhooks/(?P<id>[^/]+)/(?P<token>[^/]+)(?:/messages/(?P<message>[^/]+))?"
)
WEBHOOK_ID = "1187654321098765432"
TOKEN = "kX2v_9QeLr7TnBb3Wc-4YpZa1Ms6Ud8Hf0Jg5Ko2Ni3Pq7Rs9Tu1Vw3Xy5Za7Bc9De1Fg3Hi"
CHANNEL_ID = "1100000000000000001"
LIMITS = {"title": 256, "description": 4096, "field name": 256, "field value": 1024}
FOOTER_LIMIT = 2048
TOTAL_LIMIT = 6000


Answer = tuple[int, dict[str, str], Any]  # status, headers, JSON body (None: no body)


def discord_error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "code": code, **extra}


def counted(embeds: list[dict[str, Any]]) -> int:
    """Discord's count against 6000: these texts, trimmed, over all embeds."""
    total = 0
    for embed in embeds:
        total += len(str(embed.get("title", "")).strip())
        total += len(str(embed.get("description", "")).strip())
        for item in embed.get("fields", []):
            total += len(str(item.get("name", "")).strip()) + len(
                str(item.get("value", "")).strip()
            )
        total += len(str(embed.get("footer", {}).get("text", "")).strip())
        total += len(str(embed.get("author", {}).get("name", "")).strip())
    return total


def embed_errors(embed: Any, n: int) -> list[str]:
    if not isinstance(embed, dict):
        return [f"embeds.{n}: must be an object"]
    errors = []
    for key in ("title", "description"):
        value = embed.get(key, "")
        if not isinstance(value, str) or len(value.strip()) > LIMITS[key]:
            errors.append(f"embeds.{n}.{key}: at most {LIMITS[key]} characters")
    colour = embed.get("color", 0)
    if not isinstance(colour, int) or isinstance(colour, bool) or not 0 <= colour <= 0xFFFFFF:
        errors.append(f"embeds.{n}.color: an integer from 0 to 16777215")
    url = embed.get("url")
    if url is not None and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        errors.append(f"embeds.{n}.url: not a URL")
    if "timestamp" in embed:
        try:
            datetime.fromisoformat(embed["timestamp"])
        except (TypeError, ValueError):
            errors.append(f"embeds.{n}.timestamp: not ISO 8601")
    fields = embed.get("fields", [])
    if not isinstance(fields, list) or len(fields) > 25:
        return [*errors, f"embeds.{n}.fields: at most 25"]
    for i, item in enumerate(fields):
        name, value = item.get("name"), item.get("value")
        if not isinstance(name, str) or not 0 < len(name.strip()) <= LIMITS["field name"]:
            errors.append(f"embeds.{n}.fields.{i}.name: 1 to 256 characters")
        if not isinstance(value, str) or not 0 < len(value.strip()) <= LIMITS["field value"]:
            errors.append(f"embeds.{n}.fields.{i}.value: 1 to 1024 characters")
    footer = embed.get("footer", {}).get("text", "")
    if not isinstance(footer, str) or len(footer.strip()) > FOOTER_LIMIT:
        errors.append(f"embeds.{n}.footer.text: at most 2048 characters")
    return errors


def body_errors(body: dict[str, Any]) -> list[str]:
    errors = []
    content = body.get("content", "")
    if not isinstance(content, str) or len(content) > 2000:
        errors.append("content: at most 2000 characters")
    embeds = body.get("embeds", [])
    if not isinstance(embeds, list) or len(embeds) > 10:
        return [*errors, "embeds: at most 10"]
    for n, embed in enumerate(embeds):
        errors += embed_errors(embed, n)
    if not errors and counted(embeds) > TOTAL_LIMIT:
        errors.append(f"embeds: {counted(embeds)} characters in all, over 6000")
    mentions = body.get("allowed_mentions", {"parse": []})
    parse = mentions.get("parse", []) if isinstance(mentions, dict) else None
    if not isinstance(parse, list) or not set(parse) <= {"roles", "users", "everyone"}:
        errors.append("allowed_mentions.parse: a list of roles, users, everyone")
    return errors


def pings_everyone(body: dict[str, Any]) -> bool:
    """Would this message notify the whole channel? Without allowed_mentions, Discord parses
    every mention in the content."""
    content = body.get("content", "")
    parse = body.get("allowed_mentions", {"parse": ["everyone", "users", "roles"]}).get("parse", [])
    return "everyone" in parse and ("@everyone" in content or "@here" in content)


@dataclass
class FakeDiscord:
    webhooks: dict[str, str] = field(default_factory=lambda: {WEBHOOK_ID: TOKEN})
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id
    posted: list[str] = field(default_factory=list)  # message ids, in order
    edits: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (id, body)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, message id or "")
    refused: list[tuple[int, Any]] = field(default_factory=list)
    # Scripted answers, used first-in first-out before the normal behaviour: an int status,
    # (status, headers, json-body), an exception instance to raise, or None to answer as usual.
    script: deque[Any] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Any = field(default_factory=lambda: itertools.count(1200000000000000001))

    def url(self, webhook_id: str = WEBHOOK_ID, host: str = "discord.com") -> str:
        return f"https://{host}/api/webhooks/{webhook_id}/{self.webhooks.get(webhook_id, TOKEN)}"

    def rate_limit(self, retry_after: float, header: str | None = None) -> None:
        """Answer the next call with a 429, as Discord does."""
        headers = {"X-RateLimit-Scope": "shared"}
        if header is not None:
            headers["Retry-After"] = header
        body = discord_error(0, "You are being rate limited.", retry_after=retry_after)
        self.script.append((429, headers, {**body, "global": False}))

    def handle(self, request: httpx.Request) -> httpx.Response:
        """For httpx.MockTransport."""
        status, headers, body = self.answer(request)
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def answer(self, request: httpx.Request) -> Answer:
        match = PATH_RE.fullmatch(request.url.path)
        with self.lock:
            self.calls.append((request.method, (match and match["message"]) or ""))
            scripted = self.script.popleft() if self.script else None
        if isinstance(scripted, BaseException):
            raise scripted
        if isinstance(scripted, tuple):
            return scripted
        if scripted is not None:
            return scripted, {}, discord_error(0, f"scripted {scripted}")
        if request.url.host not in HOSTS or not match:
            return 404, {}, discord_error(0, "404: Not Found")
        if match["id"] not in self.webhooks:
            return 404, {}, discord_error(10015, "Unknown Webhook")
        if self.webhooks[match["id"]] != match["token"]:
            return 401, {}, discord_error(50027, "Invalid Webhook Token")
        if request.method == "POST" and not match["message"]:
            return self.execute(request, match["id"])
        if request.method == "PATCH" and match["message"]:
            return self.edit(request, match["message"])
        return 405, {}, discord_error(0, "405: Method Not Allowed")

    def read(self, request: httpx.Request) -> tuple[dict[str, Any] | None, Answer]:
        """The JSON body, or None and the answer refusing it."""
        media_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type != "application/json":
            return None, (400, {}, discord_error(50006, "Cannot send an empty message"))
        try:
            body = json.loads(request.read())
        except ValueError:
            return None, (400, {}, discord_error(50109, "The request body contains invalid JSON."))
        if not isinstance(body, dict):
            return None, (400, {}, discord_error(50035, "Invalid Form Body"))
        errors = body_errors(body)
        if errors:
            with self.lock:
                self.refused.append((400, errors))
            return None, (400, {}, discord_error(50035, "Invalid Form Body", errors=errors))
        return body, (200, {}, None)

    def execute(self, request: httpx.Request, webhook_id: str) -> Answer:
        body, refusal = self.read(request)
        if body is None:
            return refusal
        if not str(body.get("content", "")).strip() and not body.get("embeds"):
            return 400, {}, discord_error(50006, "Cannot send an empty message")
        with self.lock:
            message_id = str(next(self.ids))
            message = {
                "id": message_id,
                "type": 0,
                "channel_id": CHANNEL_ID,
                "webhook_id": webhook_id,
                "author": {"id": webhook_id, "username": "Alerts", "bot": True},
                "content": body.get("content", ""),
                "embeds": body.get("embeds", []),
                "mention_everyone": pings_everyone(body),
                "edited_timestamp": None,
            }
            self.messages[message_id] = message
            self.posted.append(message_id)
        if request.url.params.get("wait") == "true":
            return 200, {}, message
        return 204, {}, None

    def edit(self, request: httpx.Request, message_id: str) -> Answer:
        with self.lock:
            message = self.messages.get(message_id)
        if message is None:
            return 404, {}, discord_error(10008, "Unknown Message")
        body, refusal = self.read(request)
        if body is None:
            return refusal
        with self.lock:
            for key in ("content", "embeds"):
                if key in body:
                    message[key] = body[key]
            message["mention_everyone"] = pings_everyone({**body, "content": message["content"]})
            message["edited_timestamp"] = "2025-03-04T10:30:00+00:00"
            self.edits.append((message_id, body))
        return 200, {}, message
