"""Batched COPY of rows into tables, so memory stays bounded however large a file is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

# Rows held per table before they are sent. Large enough that COPY dominates, small enough that
# a file of any size needs only a few megabytes.
BATCH_ROWS = 5000


class CopyBuffer:
    """Collects rows for several tables and COPYs each table's batch when it fills.

    One connection can run one COPY at a time, so rows for different tables (transactions and
    their items, quarantine) are buffered separately and sent in turn.
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        tables: dict[str, Sequence[str]],
        batch_rows: int | None = None,
    ) -> None:
        self._conn = conn
        self._statements = {
            table: sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(*table.split(".")),
                sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            )
            for table, columns in tables.items()
        }
        self._rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in tables}
        self._batch_rows = batch_rows or BATCH_ROWS

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        rows = self._rows[table]
        rows.append(row)
        if len(rows) >= self._batch_rows:
            self._send(table)

    def flush(self) -> None:
        """Send every buffered row."""
        for table in self._rows:
            self._send(table)

    def _send(self, table: str) -> None:
        rows = self._rows[table]
        if not rows:
            return
        with self._conn.cursor() as cursor, cursor.copy(self._statements[table]) as copy:
            for row in rows:
                copy.write_row(row)
        rows.clear()
