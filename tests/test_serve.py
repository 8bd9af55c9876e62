"""The production web server's launcher (`python -m alerting_console.serve`): what it serves,
where, with how many workers and threads, and the directory its workers share counters in.
What it does with request bodies: tests/test_asgi.py and tests/e2e/test_request_bodies.py."""

import os

from granian.constants import Interfaces

from alerting_console import serve
from alerting_console.asgi import web_threads


def test_it_serves_the_asgi_adapter_on_bind_with_the_configured_workers(monkeypatch):
    monkeypatch.setenv("BIND", "192.0.2.10:9000")
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    monkeypatch.setenv("WEB_THREADS", "3")

    server = serve.server()

    assert server.target == "alerting_console.asgi:application"
    assert server.interface == Interfaces.ASGI
    assert (server.bind_addr, server.bind_port) == ("192.0.2.10", 9000)
    assert server.workers == 2
    assert web_threads() == 3  # the adapter's threads; granian's one runs the event loop
    assert server.blocking_threads == 1
    assert server.log_access is False
    assert serve.prepare_metrics_dir in server.hooks_startup


def test_by_default_it_binds_to_loopback_with_a_worker_per_core_plus_one(monkeypatch):
    for name in ("BIND", "WEB_CONCURRENCY", "WEB_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)

    server = serve.server()

    assert (server.bind_addr, server.bind_port) == ("127.0.0.1", 8000)
    assert (server.workers, web_threads()) == (3, 4)


def test_an_ipv6_bind_address_loses_its_brackets(monkeypatch):
    monkeypatch.setenv("BIND", "[::]:8000")

    assert serve.server().bind_addr == "::"


def test_the_counters_directory_starts_empty_and_the_workers_are_told_where(tmp_path, monkeypatch):
    # Set (empty) rather than deleted, so that monkeypatch removes what the launcher sets.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.setenv("CONSOLE_VAR_DIR", str(tmp_path))
    stale = tmp_path / "prometheus" / "counter_123.db"
    stale.parent.mkdir()
    stale.write_bytes(b"from the last run")

    serve.prepare_metrics_dir()

    assert (tmp_path / "prometheus").is_dir()
    assert not stale.exists()  # a restart starts the counters at zero
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "prometheus")
