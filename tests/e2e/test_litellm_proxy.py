"""A real, unmodified LiteLLM proxy feeding a live console, set up as docs/litellm.md says.

The proxy runs from a virtualenv of its own (tests/e2e/litellm_env.py), on 127.0.0.1, with no
network: its models are `mock_response` ones, except one that points at a local upstream that
never answers. It has no database, so a small `custom_auth` module gives each bearer key its
alias and team, and refuses unknown keys as LiteLLM refuses a bad virtual key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from django.db import connection

from ingest.bodies import decode_items
from ingest.events import Event, parse_console_event
from ingest.litellm import parse_litellm_payload
from ingest.models import GatewayRequest
from ingest.store import store_events
from tests.e2e.litellm_env import OFFLINE
from tests.e2e.processes import ROOT, Process, answers, child_environment, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CALLBACK = ROOT / "contrib" / "litellm" / "alerting_console_callback.py"

# The proxy's keys, as its custom auth knows them (a real proxy would read them from its DB).
KEYS = {
    "sk-search": {"key_alias": "search-service", "team_id": "team-search", "team_alias": "Search"},
    "sk-checkout": {
        "key_alias": "checkout-service",
        "team_id": "team-checkout",
        "team_alias": "Checkout",
    },
}
CUSTOM_AUTH = f'''
"""Custom auth for a proxy with no database: each key's alias and team."""
from fastapi import Request
from litellm.proxy._types import ProxyErrorTypes, ProxyException, UserAPIKeyAuth

KEYS = {KEYS!r}


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    known = KEYS.get(api_key)
    if known is None:
        raise ProxyException(
            message="unknown key", type=ProxyErrorTypes.auth_error, param="api_key", code=401
        )
    return UserAPIKeyAuth(api_key=api_key, **known)
'''

MOCKS = [
    {"model_name": "mock-ok", "litellm_params": {"mock_response": "hi"}},
    {"model_name": "mock-ratelimit", "litellm_params": {"mock_response": "litellm.RateLimitError"}},
    {"model_name": "mock-down", "litellm_params": {"mock_response": "litellm.InternalServerError"}},
]

# LiteLLM answers these lookups from its own package instead of fetching them, prints no
# feedback box, and reaches 127.0.0.1 directly.
LITELLM_OFFLINE = {
    **OFFLINE,
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    "NO_PROXY": "127.0.0.1,localhost",
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


# --- what reached the console, and by which feed ---------------------------------------------


@dataclass
class Feeds:
    """The events the live console stored, by feed: both feeds land in the same rows, so this is
    how the test tells which delivered what. It only looks; the console works as it always does.
    An event is recorded once it is committed (the live server runs each request in a thread)."""

    litellm: list[str] = field(default_factory=list)  # generic_api: request ids of finishes
    started: list[str] = field(default_factory=list)  # the shipped callback's starts
    finished: list[str] = field(default_factory=list)  # ...and its finishes
    litellm_bodies: list[bytes] = field(default_factory=list)  # generic_api's bodies, as sent


@pytest.fixture
def feeds(monkeypatch: pytest.MonkeyPatch) -> Feeds:
    seen = Feeds()
    parsed = threading.local()  # the events of the request this thread is serving

    def pending() -> list[tuple[list[str], Event]]:
        if not hasattr(parsed, "events"):
            parsed.events = []
        events: list[tuple[list[str], Event]] = parsed.events
        return events

    def litellm(item, now):
        event = parse_litellm_payload(item, now)
        pending().append((seen.litellm, event))
        return event

    def console(item, now):
        event = parse_console_event(item, now)
        pending().append((seen.finished if event.finished else seen.started, event))
        return event

    def decode(body):
        if b"litellm_call_id" in body:
            seen.litellm_bodies.append(body)
        return decode_items(body)

    def store(source, events, now):
        stored = store_events(source, events, now)
        for feed, event in pending():
            feed.append(event.request_id)
        pending().clear()
        return stored

    monkeypatch.setattr("ingest.views.parse_litellm_payload", litellm)
    monkeypatch.setattr("ingest.views.parse_console_event", console)
    monkeypatch.setattr("ingest.views.decode_items", decode)
    monkeypatch.setattr("ingest.views.store_events", store)
    return seen


# --- an upstream that never answers ----------------------------------------------------------


class SilentUpstream:
    """Accepts connections on 127.0.0.1 and never answers, until closed."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.port = self._server.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="silent-upstream", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted, _ = self._server.accept()
                self.connections.append(accepted)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in [*self.connections, self._server]:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def silent_upstream() -> Iterator[SilentUpstream]:
    upstream = SilentUpstream()
    yield upstream
    upstream.close()


# --- the proxy -------------------------------------------------------------------------------


@dataclass
class Proxy:
    url: str
    process: Process

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, trust_env=False)


@contextlib.contextmanager
def running_proxy(
    litellm_bin: Path, directory: Path, config: dict[str, Any], env: dict[str, str]
) -> Iterator[Proxy]:
    """The proxy started as ops would start it, next to its config and callback; always stopped."""
    directory.mkdir()
    (directory / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (directory / "custom_auth.py").write_text(CUSTOM_AUTH)
    shutil.copy(CALLBACK, directory / "alerting_console_callback.py")
    # The proxy gets none of the console's settings, nor LiteLLM settings of whoever runs this.
    inherited = {
        key: value
        for key, value in child_environment().items()
        if not key.startswith(("LITELLM_", "GENERIC_LOGGER_", "ALERTING_CONSOLE_"))
        and key.upper() not in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
    }
    port = free_port()
    process = Process(
        [str(litellm_bin), "--config", "config.yaml", "--host", "127.0.0.1", "--port", str(port)],
        {**inherited, **LITELLM_OFFLINE, **env},
        directory / "proxy.log",
        cwd=directory,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        process.wait_for(
            lambda: answers(f"{url}/health/liveliness"), timeout=90, what="the LiteLLM proxy"
        )
        yield Proxy(url, process)
    finally:
        process.kill()


def proxy_config(
    callbacks: list[str], models: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    models = [
        {**m, "litellm_params": {"model": "openai/gpt-4o-mini", **m["litellm_params"]}}
        for m in models
    ]
    return {
        "model_list": models,
        "litellm_settings": {"callbacks": callbacks},
        "router_settings": {"num_retries": 0},
        "general_settings": {
            "master_key": f"sk-{secrets.token_hex(32)}",  # the proxy refuses to start without
            "custom_auth": "custom_auth.user_api_key_auth",
        },
        **extra,
    }


def chat(client: httpx.Client, model: str, key: str, prompt: str) -> httpx.Response:
    return client.post(
        "/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": prompt}]},
    )


def wait_for_row(timeout: float = 20, **lookup: str) -> GatewayRequest:
    deadline = time.monotonic() + timeout
    while (row := GatewayRequest.objects.filter(**lookup).first()) is None:
        assert time.monotonic() < deadline, f"no row with {lookup}"
        time.sleep(0.1)
    return row


def values(row: GatewayRequest, *names: str) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


class InFlight(threading.Thread):
    """A request that waits for its answer in the background, as a client of a hung one does."""

    def __init__(self, url: str, model: str, key: str, prompt: str) -> None:
        super().__init__(name="in-flight", daemon=True)
        self.url, self.model, self.key, self.prompt = url, model, key, prompt
        self.outcome: httpx.Response | Exception | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=60, trust_env=False) as client:
                self.outcome = chat(client, self.model, self.key, self.prompt)
        except httpx.HTTPError as exc:
            self.outcome = exc

    def join(self, timeout: float | None = None) -> None:
        if self.ident is not None:
            super().join(timeout)


def tables_holding(text: str) -> list[str]:
    """Every table of the console's database with a row that contains the text."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            name = connection.ops.quote_name(table)
            query = f"SELECT 1 FROM {name} AS r WHERE r::text LIKE %s LIMIT 1"  # noqa: S608
            cursor.execute(query, [f"%{text}%"])
            if cursor.fetchone():
                found.append(table)
    return found


# --- the tests -------------------------------------------------------------------------------


def test_a_litellm_proxy_feeds_the_console_through_generic_api_and_the_shipped_callback(
    live_server, make_token, feeds, silent_upstream, litellm_bin, tmp_path
):
    token, _ = make_token()
    prompt = f"a private prompt {uuid.uuid4()}"
    hangs = {
        "model_name": "hangs",
        "litellm_params": {
            "api_base": f"http://127.0.0.1:{silent_upstream.port}/v1",
            "api_key": "sk-upstream-not-a-real-key",
            "timeout": 300,
            "max_retries": 0,
        },
    }
    config = proxy_config(["generic_api", "alerting_console_callback.handler"], [*MOCKS, hangs])
    env = {
        # generic_api, in its environment form
        "GENERIC_LOGGER_ENDPOINT": f"{live_server.url}/ingest/v1/litellm",
        "GENERIC_LOGGER_HEADERS": f"Authorization=Bearer {token}",
        "DEFAULT_FLUSH_INTERVAL_SECONDS": "1",  # whole seconds: LiteLLM reads it with int()
        # the shipped callback
        "ALERTING_CONSOLE_URL": live_server.url,
        "ALERTING_CONSOLE_TOKEN": token,
        "ALERTING_CONSOLE_FLUSH_INTERVAL": "0.2",
    }

    with running_proxy(litellm_bin, tmp_path / "proxy", config, env) as proxy:
        hung = InFlight(proxy.url, "hangs", "sk-search", prompt)
        try:
            with proxy.client() as client:
                ok = chat(client, "mock-ok", "sk-search", prompt)
                limited = chat(client, "mock-ratelimit", "sk-checkout", prompt)
                down = chat(client, "mock-down", "sk-search", prompt)
                refused = chat(client, "mock-ok", "sk-unknown", prompt)
            hung.start()

            assert ok.status_code == 200, ok.text
            assert ok.json()["choices"][0]["message"]["content"] == "hi"
            assert (limited.status_code, down.status_code, refused.status_code) == (429, 500, 401)
            answered = {"ok": ok, "limited": limited, "down": down}
            ids = {name: answer.headers["x-litellm-call-id"] for name, answer in answered.items()}
            # LiteLLM sends no call id with a refusal: the key's hash finds its row.
            ids["refused"] = wait_for_row(key_hash=sha256("sk-unknown")).request_id
            ids["hung"] = wait_for_row(model_group="hangs").request_id
            finishes = {ids[name] for name in ("ok", "limited", "down", "refused")}

            # The shipped callback is the dependable feed: every start and every finish.
            assert wait_until(
                lambda: (
                    finishes <= set(feeds.finished)
                    and {ids["ok"], ids["limited"], ids["down"], ids["hung"]} <= set(feeds.started)
                ),
                timeout=20,
            ), (feeds, proxy.process.output()[-4000:])
            # generic_api posts finishes only, once a second, and drops what LiteLLM logs while
            # it posts (1.106.2: GenericAPILogger.async_send_batch clears its whole queue after
            # the POST), so some finishes may never come: it must deliver some, and the rows
            # must be whole anyway. Two flush intervals are plenty for the ones it does send.
            wait_until(lambda: finishes <= set(feeds.litellm), timeout=3)
            assert finishes & set(feeds.litellm), proxy.process.output()[-4000:]
            assert ids["hung"] not in feeds.litellm

            rows = {row.request_id: row for row in GatewayRequest.objects.all()}
            assert sorted(rows) == sorted(ids.values())

            success = rows[ids["ok"]]
            assert values(success, "outcome", "failure_class", "status_code", "model_group",
                          "model", "provider", "key_alias", "gateway_team_id",
                          "gateway_team_alias", "key_hash") == {
                "outcome": "success", "failure_class": "", "status_code": None,
                "model_group": "mock-ok", "model": "openai/gpt-4o-mini", "provider": "openai",
                "key_alias": "search-service", "gateway_team_id": "team-search",
                "gateway_team_alias": "Search", "key_hash": sha256("sk-search"),
            }  # fmt: skip
            assert success.started_at is not None
            assert success.finished_at is not None
            assert success.started_at <= success.finished_at
            assert success.latency_seconds is not None
            assert success.total_tokens

            # A vendor's rate limit and a vendor's 500 are upstream failures: they page.
            assert values(rows[ids["limited"]], "outcome", "failure_class", "status_code",
                          "error_class", "error_provider", "key_alias", "gateway_team_id") == {
                "outcome": "failure", "failure_class": "upstream", "status_code": 429,
                "error_class": "RateLimitError", "error_provider": "openai",
                "key_alias": "checkout-service", "gateway_team_id": "team-checkout",
            }  # fmt: skip
            assert rows[ids["limited"]].started_at is not None
            assert values(rows[ids["down"]], "outcome", "failure_class", "status_code",
                          "error_class") == {
                "outcome": "failure", "failure_class": "upstream", "status_code": 500,
                "error_class": "InternalServerError",
            }  # fmt: skip
            # The gateway refusing an unknown key is the gateway's doing, not the provider's.
            assert values(rows[ids["refused"]], "outcome", "failure_class", "status_code",
                          "error_class", "key_alias") == {
                "outcome": "failure", "failure_class": "gateway", "status_code": 401,
                "error_class": "ProxyException", "key_alias": "",
            }  # fmt: skip

            # Still waiting on the upstream: started, not finished, and the console knows whose.
            assert hung.is_alive()
            assert silent_upstream.connections, "the request never reached the upstream"
            hanging = GatewayRequest.objects.get(request_id=ids["hung"])
            assert hanging.started_at is not None
            assert values(hanging, "finished_at", "outcome", "key_alias", "gateway_team_id") == {
                "finished_at": None, "outcome": "", "key_alias": "search-service",
                "gateway_team_id": "team-search",
            }  # fmt: skip

            assert tables_holding("a private prompt") == []
        finally:
            silent_upstream.close()  # the hung request fails now, so the proxy stops at once
            hung.join(30)
    assert "githubusercontent" not in proxy.process.output()  # it fetched nothing remote


def test_the_named_callback_settings_form_sends_failures_as_ndjson(
    live_server, make_token, feeds, litellm_bin, tmp_path
):
    token, _ = make_token()
    config = proxy_config(
        ["alerting_console"],
        [model for model in MOCKS if model["model_name"] == "mock-ratelimit"],
        callback_settings={
            "alerting_console": {
                "callback_type": "generic_api",
                "endpoint": f"{live_server.url}/ingest/v1/litellm",
                # Without headers LiteLLM skips the callback; the token stays out of the file.
                "headers": {"Authorization": "os.environ/ALERTING_CONSOLE_AUTHORIZATION"},
                "log_format": "ndjson",
            }
        },
    )
    env = {
        "ALERTING_CONSOLE_AUTHORIZATION": f"Bearer {token}",
        "DEFAULT_FLUSH_INTERVAL_SECONDS": "1",
    }

    with (
        running_proxy(litellm_bin, tmp_path / "proxy", config, env) as proxy,
        proxy.client() as client,
    ):
        limited = chat(client, "mock-ratelimit", "sk-search", "hello")
        assert limited.status_code == 429
        call_id = limited.headers["x-litellm-call-id"]
        assert wait_until(lambda: call_id in feeds.litellm, timeout=15), proxy.process.output()

    row = GatewayRequest.objects.get()
    assert values(row, "request_id", "outcome", "failure_class", "status_code", "key_alias",
                  "gateway_team_id") == {
        "request_id": call_id, "outcome": "failure", "failure_class": "upstream",
        "status_code": 429, "key_alias": "search-service", "gateway_team_id": "team-search",
    }  # fmt: skip
    # ndjson: an object a line, where the default json_array would have sent a list.
    [body] = feeds.litellm_bodies
    assert not body.lstrip().startswith(b"[")
    assert json.loads(body.splitlines()[0])["litellm_call_id"] == call_id
    assert feeds.started == feeds.finished == []  # only generic_api was configured
