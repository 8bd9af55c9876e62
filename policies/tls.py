"""One TLS context for every outbound call. Building one loads the CA bundle, which took about
20 ms here: per delivery, that was most of its cost (``make bench-notify``). A context is
safe to share between threads and connections. Like httpx's own, it follows SSL_CERT_FILE and
SSL_CERT_DIR (a corporate CA bundle): a new one is made if they change."""

from __future__ import annotations

import os
import ssl
from functools import cache

import httpx


def context() -> ssl.SSLContext:
    return _context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@cache
def _context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()
