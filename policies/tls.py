"""One TLS context for every outbound call. Building one loads the CA bundle, which took about
20 ms here: per delivery, that was most of its cost (``make bench-notify``). A context is
safe to share between threads and connections."""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
