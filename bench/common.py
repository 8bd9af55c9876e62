"""Shared by the benchmarks."""

from __future__ import annotations

import sys

import psycopg


def log(message: str) -> None:
    """Progress goes to stderr; stdout's last line is the JSON result."""
    print(message, file=sys.stderr, flush=True)


def ensure_database(url: str) -> None:
    """Create the benchmark's own database if it does not exist yet."""
    admin_url, _, name = url.rpartition("/")
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
