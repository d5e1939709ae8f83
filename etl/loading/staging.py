"""Batched COPY of rows into tables, so memory stays bounded however large a batch is, and the
connection's temporary tables, created once per connection."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from etl.loading.dataset import TempTable

# Rows held per table before they are sent. Large enough that COPY dominates, small enough that
# a batch of any size needs only a few megabytes.
BATCH_ROWS = 5000

# The temporary tables each open connection already has (they live as long as the session).
_created: weakref.WeakKeyDictionary[psycopg.Connection, set[str]] = weakref.WeakKeyDictionary()


def create_temp_tables(conn: psycopg.Connection, tables: Iterable[TempTable]) -> None:
    """Create the temporary tables this connection does not have yet (ON COMMIT DELETE ROWS:
    each transaction finds them empty).

    Created in a transaction of their own and remembered once it has committed: created inside
    a transaction that then rolls back, they would be gone.
    """
    known = _created.setdefault(conn, set())
    missing = [table for table in tables if table.name not in known]
    if not missing:
        return
    with conn.transaction():
        for table in missing:
            conn.execute(table.create_sql)
    if conn.info.transaction_status == TransactionStatus.IDLE:  # committed, not a savepoint
        known.update(table.name for table in missing)


@dataclass(frozen=True)
class Mark:
    """A point in a CopyBuffer's stream (see CopyBuffer.mark): per table, the batches sent and
    the rows buffered so far."""

    tables: tuple[tuple[str, int, int], ...]


class CopyBuffer:
    """Collects rows for several tables and COPYs each table's batch when it fills.

    One connection can run one COPY at a time, so rows for different tables (transactions and
    their items, quarantine) are buffered separately and sent in turn. A table's `prepare`
    turns its rows into what is sent, a round at a time (sealing personal data).
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        tables: dict[str, Sequence[str]],
        batch_rows: int | None = None,
        prepare: Mapping[str, Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]]]
        | None = None,
    ) -> None:
        self._prepare = prepare or {}
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
        self._sends = dict.fromkeys(tables, 0)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        rows = self._rows[table]
        rows.append(row)
        if len(rows) >= self._batch_rows:
            self._send(table)

    def flush(self) -> None:
        """Send every buffered row."""
        for table in self._rows:
            self._send(table)

    def mark(self) -> Mark:
        """The present point, to drop what is added after it (`undo`)."""
        return Mark(
            tuple((table, self._sends[table], len(rows)) for table, rows in self._rows.items())
        )

    def undo(self, mark: Mark) -> bool:
        """Drop the rows added since `mark` that are still buffered; False when some were sent
        already (the caller then deletes them from the tables)."""
        unsent = True
        for table, sends, length in mark.tables:
            if self._sends[table] == sends:
                del self._rows[table][length:]
            else:  # sent since: what is buffered now was all added after the mark
                self._rows[table].clear()
                unsent = False
        return unsent

    def _send(self, table: str) -> None:
        rows = self._rows[table]
        if not rows:
            return
        prepare = self._prepare.get(table)
        with self._conn.cursor() as cursor, cursor.copy(self._statements[table]) as copy:
            for row in prepare(rows) if prepare else rows:
                copy.write_row(row)
        rows.clear()
        self._sends[table] += 1
