"""Ingest counters for Prometheus. Under the web server they are shared by its worker processes
through PROMETHEUS_MULTIPROC_DIR (set by alerting_console/serve.py); elsewhere per process."""

from __future__ import annotations

from prometheus_client import Counter

EVENTS = Counter(
    "console_ingest_events",
    "Events received by the ingest endpoints: stored, or rejected as invalid.",
    ["result"],
)
REQUESTS = Counter(
    "console_ingest_requests",
    "Ingest requests answered, by HTTP status.",
    ["status"],
)
# Labels made up front, so that a scrape shows zeros rather than nothing.
STORED = EVENTS.labels(result="stored")
REJECTED = EVENTS.labels(result="rejected")
