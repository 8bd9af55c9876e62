"""The live console the end-to-end tests run against."""

import pytest
import redis
from django.conf import settings

from tests.e2e.litellm_env import litellm_command, litellm_venv
from tests.e2e.live import database_url
from tests.e2e.pagerduty_server import PagerDutyServer
from tests.e2e.processes import Console, child_environment, free_port
from tests.parallel import e2e_redis_url


@pytest.fixture
def console_env():
    """More settings for the console's processes; a test module overrides it to add some."""
    return {}


@pytest.fixture
def console(tmp_path, make_token, console_env):
    """Web server, worker and beat, configured like production, on the test database."""
    redis_url = e2e_redis_url()
    redis.Redis.from_url(redis_url).flushdb()  # no messages left over from another run
    port = free_port()
    with PagerDutyServer() as pagerduty:
        env = child_environment(
            DATABASE_URL=database_url(settings.DATABASES["default"]),
            REDIS_URL=redis_url,
            SECRET_KEY="e2e-only",
            PAGERDUTY_EVENTS_URL=pagerduty.url,
            CONSOLE_BASE_URL=f"http://127.0.0.1:{port}",
            CONSOLE_VAR_DIR=str(tmp_path / "var"),
            EVALUATION_INTERVAL_SECONDS="1",
            BIND=f"127.0.0.1:{port}",
            **console_env,
        )
        running = [Console(env, tmp_path, port)]

        def restart():
            """Stop every process (SIGTERM, then SIGKILL what is left) and start new ones."""
            running[0].stop()
            (tmp_path / f"run{len(running)}").mkdir()
            running.insert(0, Console(env, tmp_path / f"run{len(running)}", port))
            running[0].wait_until_ready()

        try:
            running[0].wait_until_ready()
            token, _ = make_token(source="litellm-prod")
            yield {
                "url": running[0].url,
                "token": token,
                "pagerduty": pagerduty.fake,
                "pagerduty_server": pagerduty,
                "restart": restart,
                "env": env,
            }
        finally:
            running[0].stop()


@pytest.fixture(scope="session")
def litellm_bin():
    """An unmodified LiteLLM proxy's command, in a virtualenv of its own (built if missing)."""
    return litellm_command(litellm_venv())
