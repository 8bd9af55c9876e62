"""A LiteLLM callback that reports every request's start and finish to the Alerting Console.

LiteLLM's generic_api callback reports only finished requests, so a request that hangs is
invisible to it. This callback also reports the start (from the proxy's pre-call hook, right
after authentication), which is what lets the console detect hung requests.

Install: copy this file next to the proxy's config.yaml and add

    litellm_settings:
      callbacks: ["alerting_console_callback.handler"]

with ALERTING_CONSOLE_URL (e.g. http://console:8000) and ALERTING_CONSOLE_TOKEN in the
proxy's environment. It imports nothing but LiteLLM, httpx (a LiteLLM dependency) and the
standard library.

It never slows down or breaks the gateway: the hooks only put a small dict on a bounded
queue; a background thread posts batches with short timeouts. If the queue is full or the
console is down, events are dropped, counted, and a warning is logged (at most once a minute);
nothing is raised into LiteLLM.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from typing import Any

import httpx

try:
    from litellm.integrations.custom_logger import CustomLogger
except ImportError:  # lets the shipping logic be tested without LiteLLM installed
    CustomLogger = object

logger = logging.getLogger("alerting_console_callback")

EVENTS_PATH = "/ingest/v1/events"


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        logger.warning("alerting console callback: %s is not a number; using %s", name, default)
        return default


class Shipper:
    """A bounded queue drained by one daemon thread that posts batches of events."""

    def __init__(
        self,
        url: str,
        token: str,
        batch_size: int = 200,
        flush_interval: float = 1.0,
        queue_size: int = 10_000,
        timeout: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = url.rstrip("/") + EVENTS_PATH
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=queue_size)
        self.sent = 0
        self.dropped = 0
        self._last_warning = 0.0
        self._client = httpx.Client(
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def put(self, event: dict[str, Any]) -> None:
        if self._thread is None:
            self._start()
        try:
            self.queue.put_nowait(event)
        except queue.Full:
            self._drop(1, "queue full")

    def _start(self) -> None:
        # Started on the first event, so that importing the module starts nothing.
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="alerting-console", daemon=True
                )
                self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        """Send what is queued (within the timeout) and stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.close()

    def _run(self) -> None:
        while not (self._stop.is_set() and self.queue.empty()):
            batch = self._next_batch()
            if batch:
                self._post(batch)

    def _next_batch(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.flush_interval
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self._stop.is_set() and self.queue.empty()):
                break
            try:
                batch.append(self.queue.get(timeout=min(remaining, 0.1)))
            except queue.Empty:
                continue
        return batch

    def _post(self, batch: list[dict[str, Any]]) -> None:
        try:
            response = self._client.post(self.endpoint, json=batch)
        except Exception as exc:  # any failure of the console must stay out of the gateway
            self._drop(len(batch), f"console unreachable: {type(exc).__name__}")
            return
        if response.status_code >= 300:
            self._drop(len(batch), f"console answered {response.status_code}")
        else:
            self.sent += len(batch)

    def _drop(self, count: int, reason: str) -> None:
        self.dropped += count
        now = time.monotonic()
        if now - self._last_warning >= 60:
            self._last_warning = now
            logger.warning(
                "alerting console callback: dropped %d events (%s); %d dropped in all",
                count, reason, self.dropped,
            )  # fmt: skip


class _Seen:
    """Request ids already reported, so LiteLLM calling both its sync and async hooks for
    one request sends one event. Bounded: the console de-duplicates anyway."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._ids:
                return False
            self._ids[key] = None
            if len(self._ids) > self.size:
                self._ids.popitem(last=False)
            return True


def _key_hash(key: Any) -> str | None:
    """LiteLLM hashes its own `sk-` keys (SHA-256, hex), but leaves other keys (custom auth)
    as they came: hash those here, the same way, so a key never leaves the gateway."""
    if not isinstance(key, str) or not key:
        return None
    if len(key) == 64 and all(c in "0123456789abcdef" for c in key):
        return key
    return hashlib.sha256(key.encode()).hexdigest()


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _tags(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [tag for tag in value if isinstance(tag, str)] or None


def _first_token(payload: dict[str, Any]) -> float | None:
    """Seconds from the start to the first token (LiteLLM: completionStartTime)."""
    start, first = payload.get("startTime"), payload.get("completionStartTime")
    if isinstance(start, int | float) and isinstance(first, int | float) and first >= start:
        return float(first - start)
    return None


# A deployment's region and API base as the proxy's router knows them: (region, api_base).
Deployment = tuple[str | None, str | None]


def router_deployment(model_id: str) -> Deployment | None:
    """Where the proxy's router says this deployment runs, as LiteLLM's own region outage
    alerts find it (its region_name, else its provider's region setting), and its API base.
    LiteLLM's logging payload carries neither for a request that failed before the provider
    answered. None outside a proxy, or for a deployment the router does not know."""
    try:
        from litellm.proxy.proxy_server import llm_router
    except Exception:
        return None
    deployment = llm_router.get_deployment(model_id=model_id) if llm_router else None
    if deployment is None:
        return None
    params = deployment.litellm_params
    region = None
    for name in ("region_name", "vertex_location", "aws_region_name", "watsonx_region_name"):
        region = region or getattr(params, name, None)
    return _text(region), _text(getattr(params, "api_base", None))


class Deployments:
    """router_deployment, remembered per deployment (a proxy has a handful; each finish asks)."""

    def __init__(self, lookup: Any = router_deployment, size: int = 1024) -> None:
        self._lookup = lookup
        self._known: OrderedDict[str, Deployment | None] = OrderedDict()
        self._size = size

    def __call__(self, model_id: str) -> Deployment | None:
        if model_id not in self._known:
            self._known[model_id] = self._lookup(model_id)
            if len(self._known) > self._size:
                self._known.popitem(last=False)
        return self._known[model_id]


def finished_event(payload: dict[str, Any], deployments: Any = None) -> dict[str, Any] | None:
    """A console `finished` event from LiteLLM's StandardLoggingPayload (never its prompts);
    `deployments`, if given, says where a deployment runs when the payload does not."""
    call_id = payload.get("litellm_call_id") or payload.get("id")
    if not call_id:
        return None
    error = payload.get("error_information") or {}
    meta = payload.get("metadata") or {}
    hidden = payload.get("hidden_params") or {}
    failed = payload.get("status") == "failure"
    event: dict[str, Any] = {
        "event": "finished",
        "request_id": str(call_id),
        "status": "failure" if failed else "success",
        "started_at": payload.get("startTime"),
        "finished_at": payload.get("endTime"),
        "trace_id": _text(payload.get("trace_id")),
        "model": _text(payload.get("model")),
        "model_group": _text(payload.get("model_group")),
        "provider": _text(payload.get("custom_llm_provider")),
        "api_base": _text(payload.get("api_base") or hidden.get("api_base")),
        "deployment_id": _text(payload.get("model_id") or hidden.get("model_id")),
        "region": _text(payload.get("region_name") or meta.get("region_name")),
        "end_user": _text(payload.get("end_user") or meta.get("user_api_key_end_user_id")),
        "tags": _tags(payload.get("request_tags")),
        "time_to_first_token_seconds": _first_token(payload),
        "team_id": _text(meta.get("user_api_key_team_id")),
        "team_alias": _text(meta.get("user_api_key_team_alias")),
        "key_alias": _text(meta.get("user_api_key_alias")),
        "key_hash": _text(meta.get("user_api_key_hash")),
        "user_id": _text(meta.get("user_api_key_user_id")),
        "org_id": _text(meta.get("user_api_key_org_id")),
        "cost": payload.get("response_cost"),
        "prompt_tokens": payload.get("prompt_tokens"),
        "completion_tokens": payload.get("completion_tokens"),
        "total_tokens": payload.get("total_tokens"),
    }
    if deployments is not None and event["deployment_id"] and not event["region"]:
        known = deployments(event["deployment_id"])
        if known is not None:
            event["region"] = event["region"] or known[0]
            event["api_base"] = event["api_base"] or known[1]
    if failed:
        code = str(error.get("error_code") or "")
        if code.isdigit():
            event["status_code"] = int(code)
        event["error_code"] = code
        event["error_class"] = _text(error.get("error_class"))
        event["error_provider"] = _text(error.get("llm_provider"))
        event["error_message"] = (error.get("error_message") or payload.get("error_str") or "")[
            :500
        ]
        if error.get("error_rate_limit_category") == "litellm_rate_limit":
            event["failure_class"] = "gateway"  # the proxy's own rate limit, not the vendor's
    return {key: value for key, value in event.items() if value is not None}


class AlertingConsoleCallback(CustomLogger):  # type: ignore[misc]
    def __init__(self, shipper: Shipper | None = None, deployments: Any = None) -> None:
        super().__init__()
        self._deployments = deployments or Deployments()
        self.shipper = shipper or Shipper(
            url=os.environ.get("ALERTING_CONSOLE_URL", "http://127.0.0.1:8000"),
            token=os.environ.get("ALERTING_CONSOLE_TOKEN", ""),
            batch_size=int(_env_number("ALERTING_CONSOLE_BATCH_SIZE", 200)),
            flush_interval=_env_number("ALERTING_CONSOLE_FLUSH_INTERVAL", 1.0),
            queue_size=int(_env_number("ALERTING_CONSOLE_QUEUE_SIZE", 10_000)),
            timeout=_env_number("ALERTING_CONSOLE_TIMEOUT", 2.0),
        )
        self._started = _Seen()
        self._finished = _Seen()

    # --- start: the proxy's pre-call hook (after auth), or the SDK's pre-API-call log ---------

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> None:
        try:
            self._report_start(data.get("litellm_call_id"), data.get("model"), user_api_key_dict)
        except Exception:  # never break the request
            logger.debug("alerting console callback: could not report a start", exc_info=True)

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: dict[str, Any]) -> None:
        try:
            self._report_start(kwargs.get("litellm_call_id"), model, None)
        except Exception:
            logger.debug("alerting console callback: could not report a start", exc_info=True)

    def _report_start(self, call_id: Any, model: Any, key: Any) -> None:
        if not call_id or not self._started.first_time(str(call_id)):
            return
        event: dict[str, Any] = {
            "event": "started",
            "request_id": str(call_id),
            "started_at": time.time(),
            "model_group": _text(model),
        }
        if key is not None:
            event.update(
                team_id=_text(getattr(key, "team_id", None)),
                team_alias=_text(getattr(key, "team_alias", None)),
                key_alias=_text(getattr(key, "key_alias", None)),
                key_hash=_key_hash(getattr(key, "token", None) or getattr(key, "api_key", None)),
                user_id=_text(getattr(key, "user_id", None)),
                org_id=_text(getattr(key, "org_id", None)),
            )
        self.shipper.put({k: v for k, v in event.items() if v is not None})

    # --- finish: LiteLLM may call the sync and the async hook for one request ----------------

    def _report_finish(self, kwargs: dict[str, Any]) -> None:
        try:
            payload = kwargs.get("standard_logging_object")
            event = (
                finished_event(payload, self._deployments) if isinstance(payload, dict) else None
            )
            if event is not None and self._finished.first_time(event["request_id"]):
                self.shipper.put(event)
        except Exception:
            logger.debug("alerting console callback: could not report a finish", exc_info=True)

    def log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._report_finish(kwargs)

    def log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._report_finish(kwargs)

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._report_finish(kwargs)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._report_finish(kwargs)


def _make_handler() -> AlertingConsoleCallback:
    if not os.environ.get("ALERTING_CONSOLE_TOKEN"):
        logger.warning("alerting console callback: ALERTING_CONSOLE_TOKEN is not set")
    instance = AlertingConsoleCallback()
    atexit.register(instance.shipper.close)
    return instance


# What `callbacks: ["alerting_console_callback.handler"]` loads.
handler = _make_handler()
