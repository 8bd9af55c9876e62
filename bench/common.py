"""Shared by the benchmarks."""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql


def log(message: str) -> None:
    """Progress goes to stderr; stdout's last line is the JSON result."""
    print(message, file=sys.stderr, flush=True)


def ensure_database(url: str, tablespace: str = "") -> None:
    """Create the benchmark's own database if it does not exist yet: in the default
    tablespace, or in a tablespace of its name at the directory `tablespace` (made if missing).
    A database found in the default tablespace when that one is asked, or in that one when the
    default is asked, is dropped and made again there."""
    admin_url, _, name = url.rpartition("/")
    tablespace = os.path.normpath(tablespace) if tablespace else ""
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        where: sql.Composable = sql.SQL("")
        if tablespace:
            where = sql.SQL(" TABLESPACE {}").format(sql.Identifier(name))
            found = conn.execute(
                "SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = %s", [name]
            ).fetchone()
            if found is None:
                conn.execute(
                    sql.SQL("CREATE TABLESPACE {} LOCATION {}").format(
                        sql.Identifier(name), sql.Literal(tablespace)
                    )
                )
            elif found[0] != tablespace:
                raise SystemExit(f"tablespace {name} is at {found[0]}, not {tablespace}")
        row = conn.execute(
            "SELECT t.spcname FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace "
            "WHERE d.datname = %s",
            [name],
        ).fetchone()
        # Moved only between the default tablespace and the one made here for it: a database
        # anywhere else is someone's own.
        asked, other = (name, "pg_default") if tablespace else ("pg_default", name)
        if row and row[0] not in (asked, other):
            raise SystemExit(f"database {name} is in tablespace {row[0]}: not the benchmark's")
        if row and row[0] == other:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            row = None
        if not row:
            conn.execute(sql.SQL("CREATE DATABASE {}{}").format(sql.Identifier(name), where))


def set_up_django(database_url: str, redis_url: str, tablespace: str = "", **env: str) -> None:
    """Point this process's Django at the benchmark's own database (made if missing, in
    `tablespace` if given: ``ensure_database``) and Redis, with `env` set too, and migrate it."""
    ensure_database(database_url, tablespace)
    os.environ.update(
        DATABASE_URL=database_url, SECRET_KEY="bench-only", REDIS_URL=redis_url, **env
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alerting_console.settings")
    os.environ["CONSOLE_VAR_DIR"] = tempfile.mkdtemp()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def console_environment(
    database_url: str, redis_url: str, pagerduty_url: str, var_dir: str, interval: float, port: int
) -> dict[str, str]:
    """The environment of the console's processes started by a benchmark: its own database and
    Redis, a fake PagerDuty, evaluation every `interval` seconds, the web server on `port`."""
    from tests.e2e.processes import child_environment

    return child_environment(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY="bench-only",
        PAGERDUTY_EVENTS_URL=pagerduty_url,
        CONSOLE_VAR_DIR=var_dir,
        EVALUATION_INTERVAL_SECONDS=str(interval),
        BIND=f"127.0.0.1:{port}",
        LOG_LEVEL="WARNING",
    )


def ensure_days(conn: psycopg.Connection[Any], first: datetime, last: datetime) -> None:
    """Create the requests' day partitions from `first`'s day to `last`'s, as writers do
    (ingest/partitions.py), for rows a benchmark writes in SQL."""
    from ingest import partitions

    day, end = partitions.day_of(first), partitions.day_of(last)
    while day <= end:
        exists = conn.execute("SELECT to_regclass(%s)", [partitions.name(day)]).fetchone()
        if not (exists and exists[0]):
            with conn.transaction():
                for sql in partitions.attach_sql(day):
                    conn.execute(sql)
        day += timedelta(days=1)
