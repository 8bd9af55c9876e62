from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from alerting_console.celery import app
from policies.models import AlertPolicy, Channel, Route, Team
from tests.parallel import for_this_worker


def pytest_configure(config: pytest.Config) -> None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql":
        raise pytest.UsageError(
            "The tests run against Postgres: set DATABASE_URL (make test defaults it to "
            "postgres://postgres@127.0.0.1:5432/test)."
        )
    # Tests log people in by the hundred; the production hasher spends seconds on each here.
    # The end-to-end tests run the real settings, real hasher included.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Side by side (pytest -n), each worker's tasks go through a Redis database of its own.
    try:
        broker = for_this_worker(settings.CELERY_BROKER_URL)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    app.conf.update(broker_read_url=broker, broker_write_url=broker)


@pytest.fixture
def make_team(db: None) -> Callable[..., Team]:
    def make(**overrides: Any) -> Team:
        slug = overrides.pop("slug", None) or f"team-{Team.objects.count() + 1}"
        fields: dict[str, Any] = {"name": slug.replace("-", " ").title(), "slug": slug}
        fields.update(overrides)
        return Team.objects.create(**fields)

    return make


@pytest.fixture
def make_channel(db: None) -> Callable[..., Channel]:
    """A channel; by default a PagerDuty one, as routing keys were."""

    def make(**overrides: Any) -> Channel:
        n = Channel.objects.count() + 1
        fields: dict[str, Any] = {"name": f"service {n}", "kind": "pagerduty"}
        if overrides.get("kind", "pagerduty") == "pagerduty":
            fields["secret"] = f"R0AB{n:024d}XY12"
        fields.update(overrides)
        channel = Channel(**fields)
        channel.full_clean()
        channel.save()
        return channel

    return make


@pytest.fixture
def make_routing_key(make_channel: Callable[..., Channel]) -> Callable[..., Channel]:
    """A PagerDuty channel (what a routing key became)."""
    return make_channel


@pytest.fixture
def make_route(db: None) -> Callable[..., Route]:
    def make(channel: Channel | list[Channel], **overrides: Any) -> Route:
        route = Route(**overrides)
        route.full_clean()
        route.save()
        route.channels.set(channel if isinstance(channel, list) else [channel])
        return route

    return make


@pytest.fixture
def make_policy(db: None) -> Callable[..., AlertPolicy]:
    def make(**overrides: Any) -> AlertPolicy:
        fields: dict[str, Any] = {"name": f"policy {AlertPolicy.objects.count() + 1}"}
        fields.update(overrides)
        policy = AlertPolicy(**fields)
        policy.full_clean()
        policy.save()
        return policy

    return make


@pytest.fixture
def staff_user(db: None) -> User:
    return User.objects.create_superuser("ops", "", "a-long-test-password")


@pytest.fixture
def ops(client: Any, staff_user: User) -> Any:
    """A test client logged in as an ops admin."""
    client.force_login(staff_user)
    return client


@pytest.fixture
def at_recording(time_machine: Any) -> None:
    """Now is just after the LiteLLM fixtures were recorded, so their times are recent."""
    from tests.litellm_fixtures import JUST_AFTER_RECORDING

    time_machine.move_to(JUST_AFTER_RECORDING, tick=False)


@pytest.fixture
def token(make_token: Any) -> str:
    """An ingest token for source litellm-prod, as a gateway holds it."""
    return str(make_token()[0])


@pytest.fixture
def make_token(db: None) -> Callable[..., tuple[str, Any]]:
    """An ingest token row and the token itself, as a gateway would hold it."""
    from ingest.models import IngestToken

    def make(**overrides: Any) -> tuple[str, IngestToken]:
        fields: dict[str, Any] = {
            "name": f"gateway {IngestToken.objects.count() + 1}",
            "source": "litellm-prod",
        }
        fields.update(overrides)
        row = IngestToken(**fields)
        token = row.set_new_token()
        row.save()
        return token, row

    return make


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> None:
    """Each test starts with no ingest token cached (tokens of one test live in its transaction)."""
    from ingest.auth import clear_cache

    clear_cache()


@pytest.fixture
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fake PagerDuty behind the console's one outbound HTTP seam."""
    from policies import http
    from tests.fake_pagerduty import FakePagerDuty

    fake = FakePagerDuty()
    monkeypatch.setattr(http, "transport", fake.transport())
    return fake


@pytest.fixture
def database_down(transactional_db: None) -> Any:
    """The database stops answering: this process's connection points at a port where
    nothing listens, until the test ends."""
    from django.db import connection

    from tests.e2e.processes import free_port

    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())
    yield
    connection.close()
    connection.settings_dict["PORT"] = real_port


@pytest.fixture
def incident(make_policy: Any, make_routing_key: Any, make_route: Any) -> Any:
    """An open incident of "Upstream failures" (5 failures, threshold 5), its trigger queued
    to the default route and not sent yet."""
    from policies.models import Incident
    from tests.engine_helpers import T0, add_requests, evaluate, later

    make_route(make_routing_key(name="Platform on-call"), scope=Route.Scope.DEFAULT)
    add_requests(5, at=later(-1))
    evaluate(make_policy(name="Upstream failures", threshold=5), T0)
    return Incident.objects.get()
