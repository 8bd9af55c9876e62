"""A fake Slack, both its incoming webhooks and its Web API (chat.postMessage, chat.update),
that checks the contract and can be told to fail.

Used at the HTTP seam (``policies.http.transport``) through ``transport()``. It answers as
Slack does (../shared/reference/channels.md section 1):
- a webhook (``https://hooks.slack.com/services/…``, registered with ``add_webhook``): 200 ``ok``,
  or the error as plain text with its status: 404 ``no_service`` for an unknown webhook,
  400 ``invalid_payload`` for a body that is not JSON, 410 ``channel_is_archived``...;
- the Web API (``<api_base>/<method>``): always JSON with ``ok``, failures on HTTP 200:
  ``not_authed`` / ``invalid_auth`` for a missing or unknown bearer token (``add_token``),
  ``channel_not_found``, ``not_in_channel``, ``is_archived``, ``thread_not_found`` when
  ``thread_ts`` is not the ts of a message it issued in that channel (stricter than Slack,
  which would take a reply's ts: ours must always be the parent's), ``message_not_found`` and
  ``cant_update_message`` for chat.update of a message it did not post with that token.

Both refuse a message over Block Kit's limits (``invalid_blocks``, ``msg_too_long``,
``msg_blocks_too_long``) or with neither text nor blocks (``no_text``). Slack documents no
limit on a whole message; ``msg_blocks_too_long`` was seen near 13k characters
(slackapi/bolt-js#2509), so this fake refuses blocks holding over 12,000 characters of text.

It keeps every message with its ts, its edits and its thread replies, so a test can say "the
first message was edited to resolved and has one reply".
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

BLOCKS_MAX = 50
HEADER_MAX = 150
TEXT_OBJECT_MAX = 3000
FIELDS_MAX = 10
FIELD_MAX = 2000
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
BUTTON_TEXT_MAX = 75
TEXT_MAX = 40_000
BLOCKS_TEXT_MAX = 12_000
ATTACHMENTS_MAX = 100


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[Any]
    token: str  # who posted it: a bot token, or "" through a webhook
    thread_ts: str = ""  # the parent's ts for a reply
    broadcast: bool = False  # a reply also shown in the channel
    edits: list[dict[str, Any]] = field(default_factory=list)  # chat.update bodies, in order
    replies: list[Message] = field(default_factory=list)
    deleted: bool = False

    @property
    def header(self) -> str:
        """The header block's text ("" if it has none)."""
        for block in self.blocks:
            if block.get("type") == "header":
                return str(block["text"]["text"])
        return ""


def text_errors(obj: Any, limit: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return ["a text object must be plain_text or mrkdwn"]
    if plain_only and obj["type"] != "plain_text":
        return ["must be plain_text"]
    value = obj.get("text")
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        return [f"text must be 1 to {limit} characters"]
    return []


def block_errors(block: Any) -> list[str]:
    """What Slack would refuse in one block (api.slack.com/reference/block-kit/blocks)."""
    if not isinstance(block, dict):
        return ["a block must be an object"]
    kind = block.get("type")
    if kind == "header":
        return text_errors(block.get("text"), HEADER_MAX, plain_only=True)
    if kind == "section":
        errors = []
        if "text" not in block and "fields" not in block:
            errors.append("a section needs text or fields")
        if "text" in block:
            errors += text_errors(block["text"], TEXT_OBJECT_MAX)
        if "fields" in block:
            fields = block["fields"]
            if not isinstance(fields, list) or not 1 <= len(fields) <= FIELDS_MAX:
                return [*errors, f"fields must be 1 to {FIELDS_MAX} items"]
            for item in fields:
                errors += text_errors(item, FIELD_MAX)
        return errors
    if kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= CONTEXT_ELEMENTS_MAX:
            return [f"context elements must be 1 to {CONTEXT_ELEMENTS_MAX}"]
        return [e for item in elements for e in text_errors(item, TEXT_OBJECT_MAX)]
    if kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= ACTIONS_ELEMENTS_MAX:
            return [f"actions elements must be 1 to {ACTIONS_ELEMENTS_MAX}"]
        return [
            e
            for item in elements
            for e in text_errors(item.get("text"), BUTTON_TEXT_MAX, plain_only=True)
        ]
    if kind == "divider":
        return []
    return [f"unknown block type {kind!r}"]


def block_text_length(blocks: list[Any]) -> int:
    """All the text in the blocks: what msg_blocks_too_long seems to count."""
    total = 0

    def walk(node: Any) -> None:
        nonlocal total
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
                total += len(node["text"])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return total


def message_error(body: dict[str, Any]) -> str:
    """Slack's error code for this message's content ("" if Slack would take it)."""
    text, blocks = body.get("text"), body.get("blocks")
    attachments = body.get("attachments")
    if not text and not blocks and not attachments:
        return "no_text"
    if text is not None and (not isinstance(text, str) or len(text) > TEXT_MAX):
        return "msg_too_long"
    if blocks is not None:
        if not isinstance(blocks, list) or len(blocks) > BLOCKS_MAX:
            return "invalid_blocks"
        if any(block_errors(block) for block in blocks):
            return "invalid_blocks"
        if block_text_length(blocks) > BLOCKS_TEXT_MAX:
            return "msg_blocks_too_long"
    if isinstance(attachments, list) and len(attachments) > ATTACHMENTS_MAX:
        return "too_many_attachments"
    return ""


# In a script: answer this request as the fake would unscripted (to fail the one after it).
NORMALLY = object()

Answer = tuple[int, dict[str, str], Any]  # status, headers, a JSON body (dict) or text (str)


@dataclass
class FakeSlack:
    api_base: str = "https://slack.test/api"
    webhook_base: str = "https://hooks.slack.com/services/"
    webhooks: dict[str, str] = field(default_factory=dict)  # URL → channel id
    tokens: set[str] = field(default_factory=set)
    # channel id → "member" (the app is in it), "outside" (it is not) or "archived"
    channels: dict[str, str] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)  # top level, in order
    calls: list[tuple[str, httpx.Headers, Any]] = field(default_factory=list)  # every request
    refused: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, error)
    # Scripted answers, used first-in first-out before the normal behaviour: an int status,
    # a dict (a 200 JSON answer), a str (a 200 text answer), (status, headers, body), an
    # exception instance to raise, or NORMALLY (this one as if unscripted).
    script: deque[Any] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _clock: int = 0

    # Setting up.

    def add_channel(self, channel: str, state: str = "member") -> str:
        self.channels[channel] = state
        return channel

    def add_token(self, token: str) -> str:
        self.tokens.add(token)
        return token

    def add_webhook(self, channel: str, secret: str) -> str:
        self.channels.setdefault(channel, "member")
        url = f"{self.webhook_base}T0FAKE001/B0FAKE002/{secret}"
        self.webhooks[url] = channel
        return url

    def delete(self, message: Message) -> None:
        """Somebody deleted the message in Slack."""
        message.deleted = True

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # Looking.

    def in_channel(self, channel: str) -> list[Message]:
        return [m for m in self.messages if m.channel == channel and not m.deleted]

    def find(self, channel: str, ts: str) -> Message | None:
        for message in self.messages:
            if message.channel == channel and message.ts == ts:
                return message
        return None

    # Answering.

    def handle(self, request: httpx.Request) -> httpx.Response:
        """For httpx.MockTransport."""
        url = str(request.url)
        body = request.read()
        with self.lock:
            self.calls.append((url, request.headers, _parsed(body)))
            scripted = self.script.popleft() if self.script else None
        if isinstance(scripted, BaseException):
            raise scripted
        if scripted is not None and scripted is not NORMALLY:
            status, headers, answer = _scripted(scripted)
        elif url.startswith(self.webhook_base):
            status, headers, answer = self.webhook(url, request, body)
        elif url.startswith(self.api_base + "/"):
            status, headers, answer = self.api(url[len(self.api_base) + 1 :], request, body)
        else:
            status, headers, answer = 404, {}, "no such host in this fake"
        if isinstance(answer, str):
            return httpx.Response(status, text=answer, headers=headers)
        return httpx.Response(status, json=answer, headers=headers)

    def webhook(self, url: str, request: httpx.Request, body: bytes) -> Answer:
        if request.method != "POST":
            return self.refuse(url, 405, "invalid_method")
        channel = self.webhooks.get(url)
        if channel is None:
            return self.refuse(url, 404, "no_service")
        if not request.headers.get("content-type", "").startswith("application/json"):
            return self.refuse(url, 400, "invalid_payload")
        payload = _parsed(body)
        if not isinstance(payload, dict):
            return self.refuse(url, 400, "invalid_payload")
        if self.channels.get(channel) == "archived":
            return self.refuse(url, 410, "channel_is_archived")
        error = message_error(payload)
        if error:
            return self.refuse(url, 400, error)
        with self.lock:
            self.messages.append(self.made(channel, payload, token=""))
        return 200, {"Content-Type": "text/html"}, "ok"

    def api(self, method: str, request: httpx.Request, body: bytes) -> Answer:
        if request.method != "POST":
            return self.api_error(method, "invalid_method")
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer "):
            return self.api_error(method, "not_authed")
        token = authorization.removeprefix("Bearer ")
        if token not in self.tokens:
            return self.api_error(method, "invalid_auth")
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/json"):
            # Slack reads such a body as a form, and finds nothing in it.
            return self.api_error(method, "invalid_form_data")
        payload = _parsed(body)
        if payload is None:
            return self.api_error(method, "invalid_json")
        if not isinstance(payload, dict):
            return self.api_error(method, "json_not_object")
        channel = payload.get("channel")
        if not isinstance(channel, str) or channel not in self.channels:
            return self.api_error(method, "channel_not_found")
        state = self.channels[channel]
        if state == "outside":
            return self.api_error(method, "not_in_channel")
        if state == "archived":
            return self.api_error(method, "is_archived")
        if method == "chat.postMessage":
            return self.post_message(token, channel, payload)
        if method == "chat.update":
            return self.update(token, channel, payload)
        return self.api_error(method, "unknown_method", status=404)

    def post_message(self, token: str, channel: str, payload: dict[str, Any]) -> Answer:
        error = message_error(payload)
        if error:
            return self.api_error("chat.postMessage", error)
        parent = None
        thread_ts = payload.get("thread_ts")
        if thread_ts is not None:
            if not isinstance(thread_ts, str) or "." not in thread_ts:
                return self.api_error("chat.postMessage", "invalid_thread_ts")
            parent = self.find(channel, thread_ts)
            if parent is None or parent.deleted:
                return self.api_error("chat.postMessage", "thread_not_found")
        with self.lock:
            message = self.made(channel, payload, token)
            if parent is None:
                self.messages.append(message)
            else:
                parent.replies.append(message)
        answer = {"text": message.text, "ts": message.ts, "thread_ts": message.thread_ts}
        return 200, {}, {"ok": True, "channel": channel, "ts": message.ts, "message": answer}

    def update(self, token: str, channel: str, payload: dict[str, Any]) -> Answer:
        message = self.find(channel, str(payload.get("ts")))
        if message is None or message.deleted:
            return self.api_error("chat.update", "message_not_found")
        if message.token != token:
            return self.api_error("chat.update", "cant_update_message")
        error = message_error(payload)
        if error:
            return self.api_error("chat.update", error)
        with self.lock:
            message.edits.append(payload)
            message.text = payload.get("text", message.text)
            # Omitted blocks stay as they were (api.slack.com/methods/chat.update).
            message.blocks = payload.get("blocks", message.blocks)
        return 200, {}, {"ok": True, "channel": channel, "ts": message.ts, "text": message.text}

    def made(self, channel: str, payload: dict[str, Any], token: str) -> Message:
        self._clock += 1
        return Message(
            channel=channel,
            ts=f"1700000000.{self._clock:06d}",
            text=payload.get("text", ""),
            blocks=payload.get("blocks", []),
            token=token,
            thread_ts=payload.get("thread_ts", ""),
            broadcast=bool(payload.get("reply_broadcast")),
        )

    def refuse(self, endpoint: str, status: int, error: str) -> Answer:
        with self.lock:
            self.refused.append((endpoint, error))
        return status, {"Content-Type": "text/html"}, error

    def api_error(self, method: str, error: str, status: int = 200) -> Answer:
        with self.lock:
            self.refused.append((method, error))
        return status, {}, {"ok": False, "error": error}


def _parsed(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _scripted(scripted: Any) -> Answer:
    if isinstance(scripted, int):
        return scripted, {}, f"scripted {scripted}"
    if isinstance(scripted, dict):
        return 200, {}, scripted
    if isinstance(scripted, str):
        return 200, {}, scripted
    status, headers, body = scripted
    return status, headers, body
