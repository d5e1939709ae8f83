"""Monthly partitions of the large tables (sql-scripts/020_partitioning.sql): created before a
load needs them, listed, and old months detached or archived.

warehouse.transactions and warehouse.transaction_items are partitioned by transaction_time,
ops.quarantine and ops.load_log by the landing file's date. A load makes sure the months it
writes have their partitions before it takes any lock (`ensure`), so that creating one (which
locks its parent for a moment) never waits inside a load's transaction.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from etl.warehouse import locks

# Detached together, items and addresses before their transactions (whose key they refer to).
DETACHABLE = (
    "warehouse.transaction_items",
    "pii.delivery_addresses",
    "warehouse.transactions",
    "ops.quarantine",
)
# Delivery addresses and quarantined lines hold personal data: an archive outside the database
# could not be erased, so their months are dropped, never archived.
NEVER_ARCHIVED = ("pii.delivery_addresses", "ops.quarantine")
ARCHIVE_SCHEMA = "archive"


class MonthsMissing(Exception):
    """A load found rows for months that have no partition yet: it rolls back, the months are
    created (outside any load's transaction) and the file loads again."""

    def __init__(self, months: set[date]) -> None:
        super().__init__(f"no partition yet for {', '.join(map(str, sorted(months)))}")
        self.months = months


def month_of(day: date) -> date:
    """The first day of the day's month: a partition's month."""
    return day.replace(day=1)


def missing(conn: psycopg.Connection, months: Iterable[date]) -> set[date]:
    """The months (first days) among `months` some partitioned table has no partition for."""
    rows = conn.execute(
        "SELECT DISTINCT month FROM ops.missing_partitions(%s)", (sorted(set(months)),)
    )
    return {row[0] for row in rows}


def ensure(conn: psycopg.Connection, months: Iterable[date]) -> int:
    """Create every missing partition of `months`; return how many were created.

    Call it outside any transaction: each partition is created in a short transaction of its
    own, which holds no other lock while it waits to lock the parent, so it cannot deadlock
    with a load. Two processes needing the same month create it once (ops.create_partition).
    """
    with conn.transaction():
        needed = conn.execute(
            "SELECT parent::text, month FROM ops.missing_partitions(%s)", (sorted(set(months)),)
        ).fetchall()
    created = 0
    for parent, month in needed:
        with conn.transaction():
            created += conn.execute(
                "SELECT ops.create_partition(%s::regclass, %s)", (parent, month)
            ).fetchone()[0]
    return created


@dataclass(frozen=True)
class Partition:
    """A month of a partitioned table: attached (in `partitions`), or detached and where to."""

    parent: str
    month: date
    rows: int
    state: str  # attached, kept (archive schema), archived (a file) or dropped
    location: str

    def __str__(self) -> str:
        return f"{self.parent} {self.month:%Y-%m} {self.state} {self.rows} rows {self.location}"


def partitions(conn: psycopg.Connection) -> list[Partition]:
    """Every attached partition (its rows counted now) and every detached month, by table and
    month."""
    found = []
    for parent, name, month in _attached(conn):
        rows = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("partitions", name))
        ).fetchone()[0]
        found.append(Partition(parent, month, rows, "attached", f"partitions.{name}"))
    for parent, month, rows, outcome, location in conn.execute(
        "SELECT parent, month, rows, outcome, location FROM ops.detached_partitions"
    ):
        found.append(Partition(parent, month, rows, outcome, location or ""))
    return sorted(found, key=lambda p: (p.parent, p.month, p.state))


def _attached(conn: psycopg.Connection) -> list[tuple[str, str, date]]:
    """(parent, partition name, month) of every attached partition, from the catalog."""
    rows = conn.execute(
        """
        SELECT i.inhparent::regclass::text, c.relname
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = ANY (ops.partitioned_tables())
        """
    ).fetchall()
    # <schema>_<table>_YYYY_MM (ops.partition_name)
    return [(parent, name, date(int(name[-7:-3]), int(name[-2:]), 1)) for parent, name in rows]


def detach(
    conn: psycopg.Connection, before: date, archive_dir: Path | None = None
) -> list[Partition]:
    """Take the months before `before` of transactions, items, delivery addresses and quarantine
    out of the tables.

    Each month goes in one transaction that holds the erasure lock exclusively, so no load or
    erasure runs meanwhile. Transactions and items are kept in the schema `archive` (out of
    every query, re-attachable by hand), or with `archive_dir` written there as gzipped CSV
    (header, every column) and dropped. Addresses and quarantine months are dropped (personal
    data). The load log keeps every month: it is what keeps an old file from loading again.
    Returns what was detached.
    """
    if archive_dir is not None:
        archive_dir.mkdir(parents=True, exist_ok=True)
    with conn.transaction():
        months = sorted(
            {
                month
                for parent, _, month in _attached(conn)
                if parent in DETACHABLE and month < month_of(before)
            }
        )
    detached = []
    for month in months:
        with conn.transaction():
            locks.lock_erasure_exclusive(conn)
            for parent in DETACHABLE:
                result = _detach_one(conn, parent, month, archive_dir)
                if result is not None:
                    detached.append(result)
    return detached


def _detach_one(
    conn: psycopg.Connection, parent: str, month: date, archive_dir: Path | None
) -> Partition | None:
    name = conn.execute("SELECT ops.partition_name(%s::regclass, %s)", (parent, month)).fetchone()[
        0
    ]
    table = sql.Identifier("partitions", name)
    if conn.execute("SELECT to_regclass(%s)", (f"partitions.{name}",)).fetchone()[0] is None:
        return None
    conn.execute(
        sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
            sql.Identifier(*parent.split(".")), table
        )
    )
    # A detached month of items keeps a copy of the reference to transactions, which would
    # forbid detaching that month of transactions next: it refers to nothing now.
    # One at a time, a reference before its copies (conparentid names the one they copy, which
    # refuses to be dropped on its own): dropping it takes them along.
    while constraint := conn.execute(
        """
        SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'
        ORDER BY conparentid <> 0, conname LIMIT 1
        """,
        (f"partitions.{name}",),
    ).fetchone():
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                table, sql.Identifier(constraint[0])
            )
        )
    rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()[0]
    digest = None
    if parent in NEVER_ARCHIVED:
        outcome, location = "dropped", None
        conn.execute(sql.SQL("DROP TABLE {}").format(table))
    elif archive_dir is not None:
        # A month detached before (and loaded again since) keeps its first archive.
        path = archive_dir / f"{parent}_{month:%Y-%m}.csv.gz"
        copies = 1
        while path.exists():
            copies += 1
            path = archive_dir / f"{parent}_{month:%Y-%m}.{copies}.csv.gz"
        digest = _write_archive(conn, table, path)
        outcome, location = "archived", str(path.resolve())
        conn.execute(sql.SQL("DROP TABLE {}").format(table))
    else:
        kept, copies = name, 1
        while conn.execute("SELECT to_regclass(%s)", (f"{ARCHIVE_SCHEMA}.{kept}",)).fetchone()[0]:
            copies += 1
            kept = f"{name}_{copies}"
        if kept != name:
            conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(table, sql.Identifier(kept)))
        conn.execute(
            sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                sql.Identifier("partitions", kept), sql.Identifier(ARCHIVE_SCHEMA)
            )
        )
        outcome, location = "kept", f"{ARCHIVE_SCHEMA}.{kept}"
    conn.execute(
        """
        INSERT INTO ops.detached_partitions (parent, month, rows, outcome, location, sha256)
        VALUES (%s, %s, %s, %s, %s, %s)
        """,
        (parent, month, rows, outcome, location, digest),
    )
    return Partition(parent, month, rows, outcome, location or "")


def _write_archive(conn: psycopg.Connection, table: sql.Composable, path: Path) -> str:
    """COPY the table to a gzipped CSV at `path` (written whole, then renamed); its SHA-256."""
    partial = path.with_name(path.name + ".partial")
    digest = hashlib.sha256()
    copy_sql = sql.SQL("COPY {} TO STDOUT WITH (FORMAT csv, HEADER)").format(table)
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out,
        conn.cursor() as cursor,
        cursor.copy(copy_sql) as copy,
    ):
        for chunk in copy:
            out.write(chunk)
    with partial.open("rb") as written:
        for block in iter(lambda: written.read(1 << 20), b""):
            digest.update(block)
        os.fsync(written.fileno())
    partial.replace(path)
    return digest.hexdigest()


def archive_files(conn: psycopg.Connection) -> list[Path]:
    """The archive files of detached months, which `warehouse verify-erasure` searches too."""
    return [
        Path(row[0])
        for row in conn.execute(
            "SELECT location FROM ops.detached_partitions WHERE outcome = 'archived' ORDER BY 1"
        )
    ]
