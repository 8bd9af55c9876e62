"""Each task's message reaches its own queue and no other, through the real broker: evaluation
ticks only the engine's worker runs, pages only the deliveries' worker sends."""

import pytest

from alerting_console.celery import app
from ingest.tasks import fold_rollups, prune_old_requests
from policies.tasks import deliver, deliver_due, evaluate
from tests.broker import empty_queues  # noqa: F401 - a fixture

QUEUES = ("engine", "deliveries", "housekeeping")


def waiting():
    with app.connection_for_write() as conn:
        return {q: _length(conn, q) for q in QUEUES}


def _length(conn, queue):
    try:
        return conn.default_channel.queue_declare(queue=queue, passive=True)[1]
    except conn.channel_errors:  # Redis keeps no empty list: an empty queue is not found
        return 0


@pytest.mark.usefixtures("empty_queues")
@pytest.mark.parametrize(
    ("task", "args", "queue"),
    [
        (evaluate, (), "engine"),
        (deliver_due, (), "engine"),
        (deliver, (1,), "deliveries"),
        (prune_old_requests, (), "housekeeping"),
        (fold_rollups, (), "housekeeping"),
    ],
)
def test_a_task_is_queued_for_its_worker_only(task, args, queue):
    task.apply_async(args)

    assert waiting() == {q: int(q == queue) for q in QUEUES}
