"""Production settings for gunicorn (`gunicorn -c gunicorn.conf.py alerting_console.wsgi`).

Threaded workers keep gateway connections alive between posts; a worker per core plus one
keeps the CPUs busy while others wait on Postgres. WEB_CONCURRENCY and WEB_THREADS override.
"""

import multiprocessing
import os

# Loopback unless told otherwise: production sets BIND=0.0.0.0:8000 behind its proxy.
bind = os.environ.get("BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("WEB_THREADS", 4))
keepalive = 75  # longer than the idle timeout of common load balancers and httpx (5 s)
timeout = 60
accesslog = os.environ.get("ACCESS_LOG") or None
