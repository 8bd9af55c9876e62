"""What waits in the real broker's queues (Redis), for tests of what is handed to workers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerting_console.celery import app


@pytest.fixture
def empty_queues() -> Iterator[None]:
    with app.connection_for_write() as conn:
        for queue in app.amqp.queues.values():
            queue(conn.default_channel).declare()  # as a worker would
    app.control.purge()
    yield
    app.control.purge()


def queued_tasks() -> list[tuple[int, ...]]:
    """The deliveries tasks waiting in the deliveries worker's queue: each task's ids."""
    tasks: list[tuple[int, ...]] = []
    with app.connection_for_read() as conn, conn.SimpleQueue("deliveries", no_ack=True) as queue:
        while True:
            try:
                message = queue.get(timeout=0.5)
            except queue.Empty:
                return tasks
            assert message.headers["task"] == "policies.deliver"
            tasks.append(tuple(message.payload[0]))


def queued_deliveries() -> list[int]:
    """The delivery ids waiting in the deliveries worker's queue."""
    return [delivery_id for task in queued_tasks() for delivery_id in task]
