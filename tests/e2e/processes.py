"""Starting the console's real processes in tests, and stopping them whatever happens."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent

# Variables that would make a child process use the test suite's own services or settings.
CONSOLE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "CONSOLE_BASE_URL",
    "PAGERDUTY_EVENTS_URL",
    "CSRF_TRUSTED_ORIGINS",
    "CONSOLE_VAR_DIR",
    "DJANGO_SETTINGS_MODULE",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CONSOLE_VARIABLES}
    env.update(overrides)
    return env


class Process:
    """A command in its own process group, its output in a file that tests can read."""

    def __init__(
        self, args: list[str], env: Mapping[str, str], log: Path, cwd: Path = ROOT
    ) -> None:
        self.log = log
        self._log_file = log.open("wb")
        self.popen = subprocess.Popen(  # our own commands
            args,
            cwd=cwd,
            env=dict(env),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; output:\n{self.output()[-4000:]}")

    def interrupt(self, timeout: float = 20) -> int:
        """Ctrl-C as a terminal sends it: SIGINT to the whole process group."""
        os.killpg(self.popen.pid, signal.SIGINT)
        return self.popen.wait(timeout=timeout)

    def group_alive(self) -> bool:
        try:
            os.killpg(self.popen.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self) -> None:
        """Stop it whatever state it is in. SIGTERM first: a supervisor such as honcho starts
        its children in sessions of their own, which only it can stop; SIGKILL to our group
        would leave them running."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=15)
        if self.group_alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._log_file.close()


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# The worker commands of the README's "Running in production": evaluation has a worker of
# its own, so that no page, however slow PagerDuty is, keeps it waiting.
ENGINE_WORKER = ["-Q", "engine", "-n", "engine@%h", "--concurrency", "2"]
DELIVERY_WORKER = ["-Q", "deliveries,housekeeping", "-n", "deliveries@%h", "--concurrency", "2"]


def celery_command() -> list[str]:
    """This virtualenv's celery, for the console's app."""
    return [str(Path(sys.executable).parent / "celery"), "-A", "alerting_console"]


class Console:
    """The console as production runs it: the web server (python -m alerting_console.serve),
    the engine's and the deliveries' Celery workers and Celery beat, each a process of its own,
    with `env` (which sets BIND)."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, port: int) -> None:
        celery = celery_command()
        self.url = f"http://127.0.0.1:{port}"
        self.web = Process(
            [sys.executable, "-m", "alerting_console.serve"],
            env,
            log_dir / "web.log",
        )
        self.engine = Process(
            [*celery, "worker", *ENGINE_WORKER, "--loglevel", "INFO"],
            env,
            log_dir / "engine.log",
        )
        self.worker = Process(
            [*celery, "worker", *DELIVERY_WORKER, "--loglevel", "INFO"],
            env,
            log_dir / "worker.log",
        )
        self.beat = Process([*celery, "beat", "--loglevel", "INFO"], env, log_dir / "beat.log")

    def wait_until_ready(self, timeout: float = 60) -> None:
        self.web.wait_for(lambda: answers(f"{self.url}/admin/login/"), timeout, "the web server")
        for worker in (self.engine, self.worker):
            worker.wait_for(partial(_says_ready, worker), timeout, "a worker")

    def stop(self) -> None:
        for process in (self.web, self.engine, self.worker, self.beat):
            process.kill()


class MoreWorkers:
    """A second set of the console's background processes (both workers and beat) beside a
    Console, as a second replica would run them: nothing may be evaluated or sent twice."""

    def __init__(self, env: Mapping[str, str], log_dir: Path, name: str = "second") -> None:
        celery = celery_command()
        engine = [*ENGINE_WORKER]
        engine[engine.index("engine@%h")] = f"engine-{name}@%h"
        deliveries = [*DELIVERY_WORKER]
        deliveries[deliveries.index("deliveries@%h")] = f"deliveries-{name}@%h"
        self.engine = Process(
            [*celery, "worker", *engine, "--loglevel", "INFO"], env, log_dir / f"engine-{name}.log"
        )
        self.worker = Process(
            [*celery, "worker", *deliveries, "--loglevel", "INFO"],
            env,
            log_dir / f"worker-{name}.log",
        )
        # A beat of its own schedule file: two beats fire every tick twice.
        self.beat = Process(
            [*celery, "beat", "--loglevel", "INFO", "-s", str(log_dir / f"beat-{name}.db")],
            env,
            log_dir / f"beat-{name}.log",
        )

    def wait_until_ready(self, timeout: float = 60) -> None:
        for worker in (self.engine, self.worker):
            worker.wait_for(partial(_says_ready, worker), timeout, "a worker")

    def stop(self) -> None:
        for process in (self.engine, self.worker, self.beat):
            process.kill()


def _says_ready(worker: Process) -> bool:
    return "ready." in worker.output()
