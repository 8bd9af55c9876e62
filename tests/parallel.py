"""The suite side by side (`pytest -n N`, pytest-xdist): each worker process runs its tests on a
database of its own (pytest-django names it after the worker) and on Redis databases of its own,
chosen here, so that one worker's queued tasks and flushes never reach another's."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

# Each worker takes two Redis databases: the suite's broker and the end-to-end consoles'.
DATABASES_PER_WORKER = 2


def worker_index() -> int:
    """0 for the first xdist worker (gw0) and for a run without xdist."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def for_this_worker(redis_url: str) -> str:
    """The same Redis, DATABASES_PER_WORKER databases lower per worker: /15 and /14 for the
    first, /13 and /12 for the second, and so on."""
    parts = urlsplit(redis_url)
    if parts.scheme not in ("redis", "rediss"):
        return redis_url  # kombu's file queue: the suite runs on Redis (make test)
    database = int(parts.path.strip("/") or 0) - DATABASES_PER_WORKER * worker_index()
    if database < 0:
        raise ValueError(
            f"{redis_url} leaves no Redis database for xdist worker {worker_index()}: "
            "run fewer workers, or point the suite at higher database numbers"
        )
    return urlunsplit(parts._replace(path=f"/{database}"))


def e2e_redis_url() -> str:
    """The Redis database for the console processes a test starts (E2E_REDIS_URL): the suite's
    own is full of messages no worker of theirs should see."""
    return for_this_worker(os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/14"))
