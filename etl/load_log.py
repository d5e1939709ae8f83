"""The load log (ops.load_log): one row per attempt to load a landing file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from etl.landing import LandingFile


@dataclass(frozen=True)
class FileLoad:
    """The outcome of one landing file, as logged.

    status is `loaded`, `rejected` or `failed`, or `unchanged` when the file was already loaded
    with the same checksum (nothing is logged for an unchanged file).
    """

    landing_file: LandingFile
    status: str
    checksum: str
    read: int = 0
    loaded: int = 0
    duplicate: int = 0
    quarantined: int = 0
    erased: int = 0
    scrubbed: int = 0
    orphans: int = 0
    error: str | None = None

    def __post_init__(self) -> None:
        if self.read != self.loaded + self.duplicate + self.quarantined + self.erased:
            raise AssertionError(
                f"{self.landing_file.relative_path}: records unaccounted for: {self}"
            )


def loaded_checksum(conn: psycopg.Connection, landing_file: LandingFile) -> str | None:
    """The checksum of the file's content now in the warehouse, or None if it never loaded."""
    row = conn.execute(
        """
        SELECT checksum FROM ops.load_log
        WHERE source_file = %s AND status IN ('loaded', 'rejected', 'scrubbed')
          AND partition_date = %s  -- the file's month: one partition of the log is searched
        ORDER BY load_id DESC LIMIT 1
        """,
        (landing_file.relative_path, landing_file.partition_date),
    ).fetchone()
    return row[0] if row else None


def record(conn: psycopg.Connection, load: FileLoad, started_at: datetime) -> None:
    """Append `load` to the log (inside the caller's transaction)."""
    landing_file = load.landing_file
    conn.execute(
        """
        INSERT INTO ops.load_log (
            dataset, partition_date, partition_hour, source_file, checksum, status,
            records_read, records_loaded, records_duplicate, records_quarantined,
            records_erased, records_scrubbed, orphans, error, started_at
        ) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (
            landing_file.dataset,
            landing_file.partition_date,
            landing_file.partition_hour,
            landing_file.relative_path,
            load.checksum,
            load.status,
            load.read,
            load.loaded,
            load.duplicate,
            load.quarantined,
            load.erased,
            load.scrubbed,
            load.orphans,
            load.error,
            started_at,
        ),
    )
