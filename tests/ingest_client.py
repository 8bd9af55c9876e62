"""Posting to the ingest endpoints as a gateway does."""

import json
from typing import Any

from django.test import Client

EVENTS_URL = "/ingest/v1/events"
LITELLM_URL = "/ingest/v1/litellm"


def post(
    client: Client, url: str, body: Any, token: str | None, content_type: str = "application/json"
):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    # generic() rather than post(): post() drops the content type of an empty body.
    return client.generic(
        "POST", url, data, content_type, headers=headers, CONTENT_TYPE=content_type
    )
