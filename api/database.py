"""Database access for the API: a pool of read-only connections as a role without personal data."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

ANALYST_ROLE = "warehouse_analyst"

# Every transaction read-only and short, whatever the query: the API never writes.
_CONNECTION_OPTIONS = "-c default_transaction_read_only=on -c statement_timeout=15s"

# What holds personal data (sql-scripts/001, 002) and must be out of the role's reach.
_PERSONAL_DATA_REACHABLE = """
    SELECT current_user, ARRAY(
        SELECT nspname::text FROM pg_namespace
        WHERE nspname IN ('pii', 'privacy') AND has_schema_privilege(oid, 'USAGE')
        UNION ALL
        SELECT 'ops.quarantine.payload'
        WHERE has_column_privilege(to_regclass('ops.quarantine'), 'payload', 'SELECT')
    )
"""


class PersonalDataReachable(RuntimeError):
    """The API's database role can read personal data: the API refuses to use it."""


def analyst_url(owner_url: str) -> str:
    """The same database as `owner_url`, as the analyst role (no password: trust or a passfile)."""
    params = conninfo_to_dict(owner_url)
    params.pop("password", None)
    params["user"] = ANALYST_ROLE
    return make_conninfo(**params)


def _refuse(role: str, reachable: list[str]) -> None:
    if reachable:
        raise PersonalDataReachable(
            f"database role {role!r} can read personal data ({', '.join(reachable)}); "
            f"the API connects only as {ANALYST_ROLE} or a role like it"
        )


def check_role(conn: psycopg.Connection) -> None:
    """Raise PersonalDataReachable if the connection's role can read personal data."""
    _refuse(*conn.execute(_PERSONAL_DATA_REACHABLE).fetchone())


async def _configure(conn: psycopg.AsyncConnection) -> None:
    """Checked on every new connection, so no later change of role or grants goes unnoticed."""
    await conn.set_autocommit(True)
    cursor = await conn.execute(_PERSONAL_DATA_REACHABLE)
    _refuse(*await cursor.fetchone())


def connection_pool(url: str, size: int, timeout: float) -> AsyncConnectionPool:
    """A closed pool of read-only connections to `url`; open it with `await pool.open()`.

    `timeout` bounds both the wait for a connection and a connection attempt, so that a request
    meeting a database that is down fails within it (and becomes a 503). After 30 s of failed
    attempts the pool stops backing off and the next request tries again at once, so that the
    API is serving again within seconds of the database's return, however long it was down.
    """
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=size,
        timeout=timeout,
        open=False,
        configure=_configure,
        check=AsyncConnectionPool.check_connection,
        reconnect_timeout=30,
        kwargs={
            "options": _CONNECTION_OPTIONS,
            "connect_timeout": max(1, round(timeout)),
            "application_name": "warehouse-api",
        },
    )


async def fetch_all(
    pool: AsyncConnectionPool, sql: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Run one query and return its rows as dicts."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(sql, params)
        return await cursor.fetchall()
