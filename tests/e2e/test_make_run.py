"""`make run` on the embedded default: a newcomer gets a working console with no services."""

import contextlib
import re
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.processes import ROOT, Process, answers, child_environment, free_port

pytestmark = pytest.mark.e2e


def test_make_run_serves_the_admin_and_one_ctrl_c_stops_every_process(tmp_path):
    port = free_port()
    env = child_environment(
        CONSOLE_VAR_DIR=str(tmp_path / "var"),
        CONSOLE_ADMIN_USER="newcomer",
        CONSOLE_ADMIN_PASSWORD="a-long-try-out-password",
    )
    run = Process(
        ["make", "--no-print-directory", "run", f"PORT={port}"], env, tmp_path / "run.log"
    )
    try:
        login = f"http://127.0.0.1:{port}/admin/login/"
        run.wait_for(lambda: answers(login), timeout=90, what="the admin login page")
        # Evaluation has a worker of its own, the deliveries another (README, "Running in
        # production").
        for worker in ("engine", "deliveries"):
            banner = re.compile(rf"{worker}@\S+ ready\.")
            run.wait_for(
                lambda: banner.search(run.output()) is not None,  # noqa: B023 - called at once
                timeout=60,
                what=f"the Celery worker {worker}",
            )
        run.wait_for(lambda: "beat: Starting" in run.output(), timeout=60, what="Celery beat")
        ready = f"The Alerting Console is ready: http://127.0.0.1:{port}/admin/"
        run.wait_for(lambda: ready in run.output(), timeout=30, what="the last words")
        # Last, after the other processes' banners: what a newcomer reads is where to go.
        assert run.output().index(ready) > run.output().index("beat: Starting")
        # Beat's ticks reach the engine's worker through its queue: evaluations are recorded.
        run.wait_for(lambda: evaluated(tmp_path / "var"), timeout=60, what="an evaluation")

        output = run.output()
        assert "Created admin user 'newcomer'." in output
        assert f"Console: http://127.0.0.1:{port}/admin/" in output
        assert "a-long-try-out-password" not in output
        assert (tmp_path / "var" / "console.sqlite3").exists()
        # Everything the embedded default writes stays under the var directory.
        assert not (ROOT / "control").exists()

        # The newcomer can log in and reach the policy form.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as browser:
            page = browser.get("/admin/login/")
            token = browser.cookies["csrftoken"]
            assert page.status_code == 200
            logged_in = browser.post(
                "/admin/login/?next=/admin/policies/alertpolicy/add/",
                data={
                    "username": "newcomer",
                    "password": "a-long-try-out-password",
                    "csrfmiddlewaretoken": token,
                    "next": "/admin/policies/alertpolicy/add/",
                },
                headers={"Referer": login},
                follow_redirects=True,
            )
            assert logged_in.status_code == 200
            assert "Add alert policy" in logged_in.text

        # Ingest works on the embedded SQLite default too (through its ORM path).
        created = subprocess.run(
            [sys.executable, "manage.py", "create_ingest_token", "try-out"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        token = created.stdout.strip().splitlines()[-1]
        event = {"event": "started", "request_id": "first", "started_at": time.time()}
        posted = httpx.post(
            f"http://127.0.0.1:{port}/ingest/v1/events",
            json=[event, {**event, "event": "finished", "status": "success"}],
            headers={"Authorization": f"Bearer {token}"},
        )
        assert posted.status_code == 200, posted.text
        assert posted.json() == {"accepted": 2, "rejected": []}

        # The README's first alert: one command, no account anywhere, no file edited.
        demo = subprocess.run(
            [sys.executable, "manage.py", "demo", "--url", f"http://127.0.0.1:{port}"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "The alert went through." in demo.stdout
        shown = re.search(r"/admin/policies/inboxmessage/(\d+)/change/", demo.stdout)
        assert shown is not None, demo.stdout
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as browser:
            browser.get("/admin/login/")
            browser.post(
                "/admin/login/",
                data={
                    "username": "newcomer",
                    "password": "a-long-try-out-password",
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                },
                headers={"Referer": login},
            )
            inbox = browser.get(shown.group(0)).text
        assert "Demo: failed requests" in inbox
        for kind in ("PagerDuty", "Slack", "Microsoft Teams", "Discord", "E-mail"):
            assert f"<h3>{kind}</h3>" in inbox, kind

        assert run.interrupt() is not None
        time.sleep(1)
        assert not run.group_alive(), run.output()[-3000:]
    finally:
        run.kill()


def evaluated(var_dir):
    with contextlib.closing(sqlite3.connect(var_dir / "console.sqlite3")) as db:
        rows = db.execute("SELECT count(*) FROM policies_heartbeat WHERE name = 'evaluate'")
        return rows.fetchone()[0] > 0
