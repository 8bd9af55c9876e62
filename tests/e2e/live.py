"""Helpers for tests against a live console: waiting, and posting events as a gateway."""

import time

import httpx


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def database_url(db):
    """The test database, for processes outside this one (they see what tests commit)."""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}{password}@{host}/{db['NAME']}"


def post(console, events):
    response = httpx.post(
        f"{console['url']}/ingest/v1/events",
        json=events,
        headers={"Authorization": f"Bearer {console['token']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response


def failures(n, team="team-search"):
    now = time.time()
    return [
        {
            "event": "finished",
            "request_id": f"fail-{now}-{i}",
            "status": "failure",
            "finished_at": now,
            "status_code": 503,
            "error_class": "ServiceUnavailableError",
            "team_id": team,
            "model_group": "gpt-4o",
        }
        for i in range(n)
    ]
