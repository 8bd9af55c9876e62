"""Production settings for gunicorn (`gunicorn -c gunicorn.conf.py alerting_console.wsgi`).

Threaded workers keep gateway connections alive between posts; a worker per core plus one
keeps the CPUs busy while others wait on Postgres. WEB_CONCURRENCY and WEB_THREADS override.
"""

import multiprocessing
import os
import shutil
from pathlib import Path

# Loopback unless told otherwise: production sets BIND=0.0.0.0:8000 behind its proxy.
bind = os.environ.get("BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("WEB_THREADS", 4))
keepalive = 75  # longer than the idle timeout of common load balancers and httpx (5 s)
timeout = 60
accesslog = os.environ.get("ACCESS_LOG") or None

# Prometheus counters are per process; gunicorn's workers share them through files here, so
# that /metrics, whichever worker answers it, counts every worker's events.
_metrics_dir = Path(
    os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    or Path(os.environ.get("CONSOLE_VAR_DIR") or Path(__file__).parent / "var") / "prometheus"
)


def on_starting(server):  # type: ignore[no-untyped-def]
    shutil.rmtree(_metrics_dir, ignore_errors=True)  # a restart starts the counters at zero
    _metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
