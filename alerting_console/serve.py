"""The production web server: `python -m alerting_console.serve`, granian serving the console.

granian parses HTTP in Rust, off the GIL: on two cores it answers single-event posts with
typically a third more capacity than gunicorn's threaded workers did, and a shorter tail
(README, "Performance"). It runs the ASGI adapter of `alerting_console/asgi.py`, which reads
each request body on the worker's event loop within a deadline and a size cap, then runs the
WSGI application in WEB_THREADS threads (each keeps one database connection): slow clients
hold no thread. A worker per core plus one keeps the CPUs busy while others wait on Postgres.

BIND (127.0.0.1:8000), WEB_CONCURRENCY (workers), WEB_THREADS (threads per worker, read by
the adapter) and ACCESS_LOG (any value: log every request) come from the environment.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from granian.constants import Interfaces
from granian.server.mp import MPServer  # what granian.Granian is on a Python with a GIL

BASE_DIR = Path(__file__).resolve().parent.parent


def metrics_dir() -> Path:
    """Where the workers share their Prometheus counters (alerting_console/metrics.py)."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("CONSOLE_VAR_DIR") or BASE_DIR / "var") / "prometheus"


def prepare_metrics_dir() -> None:
    """Counters are per process; the workers, started after this, share them through files
    here, so that /metrics, whichever worker answers it, counts every worker's events."""
    directory = metrics_dir()
    shutil.rmtree(directory, ignore_errors=True)  # a restart starts the counters at zero
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)  # inherited by the workers


def server() -> MPServer:
    host, _, port = os.environ.get("BIND", "127.0.0.1:8000").rpartition(":")
    granian = MPServer(
        "alerting_console.asgi:application",
        address=host.strip("[]"),
        port=int(port),
        interface=Interfaces.ASGI,
        workers=int(os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) + 1),
        # The event loop's thread; the adapter's own pool runs the views.
        blocking_threads=1,
        websockets=False,
        log_access=bool(os.environ.get("ACCESS_LOG")),
    )
    granian.on_startup(prepare_metrics_dir)
    return granian


if __name__ == "__main__":
    server().serve()
