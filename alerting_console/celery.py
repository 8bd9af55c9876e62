"""The Celery app: worker and beat read their configuration from Django's CELERY_* settings."""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

from alerting_console.logfilters import install

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alerting_console.settings")

app = Celery("alerting_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _filter_log_lines(logger: logging.Logger, **kwargs: Any) -> None:
    # Celery replaces the handlers Django's LOGGING set up: they get the same filters. A task's
    # return value is logged as it is, and evaluation's names the groups the gateway sent.
    install(logger.handlers)
