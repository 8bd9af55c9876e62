"""Workers side by side take Redis databases of their own."""

import pytest

from tests.parallel import e2e_redis_url, for_this_worker


def test_the_first_worker_and_a_run_without_workers_keep_the_databases_given(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert for_this_worker("redis://127.0.0.1:6379/15") == "redis://127.0.0.1:6379/15"
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert for_this_worker("redis://127.0.0.1:6379/15") == "redis://127.0.0.1:6379/15"


def test_each_further_worker_takes_the_two_databases_below(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    monkeypatch.setenv("E2E_REDIS_URL", "redis://:pw@10.0.0.5:6380/14?timeout=3")

    assert for_this_worker("redis://127.0.0.1:6379/15") == "redis://127.0.0.1:6379/13"
    assert e2e_redis_url() == "redis://:pw@10.0.0.5:6380/12?timeout=3"


def test_a_worker_with_no_database_left_is_told_so(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")

    with pytest.raises(ValueError, match="no Redis database for xdist worker 3"):
        for_this_worker("redis://127.0.0.1:6379/5")


def test_a_file_queue_is_left_alone(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert for_this_worker("filesystem://") == "filesystem://"
