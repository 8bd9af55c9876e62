"""The Celery app: worker and beat read their configuration from Django's CELERY_* settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alerting_console.settings")

app = Celery("alerting_console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
