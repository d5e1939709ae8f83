"""Refresh the analytics marts (schema marts; their refresh: sql-scripts/definitions/)."""

from __future__ import annotations

from datetime import date

import psycopg


def refresh(conn: psycopg.Connection, start: date | None = None, end: date | None = None) -> int:
    """Recompute the marts for the days start..end, or, without a range, for the days the
    warehouse changed on since the last refresh. One transaction: readers see the old rows until
    it commits. Returns the number of days recomputed."""
    if (start is None) != (end is None):
        raise ValueError("give both start and end, or neither")
    with conn.transaction():
        if start is None:
            return conn.execute("SELECT marts.refresh_pending()").fetchone()[0]
        return conn.execute("SELECT marts.refresh(%s, %s)", (start, end)).fetchone()[0]


def refresh_all(conn: psycopg.Connection) -> int:
    """Recompute the marts for every day the warehouse holds; return the number of days."""
    with conn.transaction():
        return conn.execute("SELECT marts.refresh_all()").fetchone()[0]
