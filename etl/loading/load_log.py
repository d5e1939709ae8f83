"""The load log (ops.load_log): one row per attempt to load a landing file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import psycopg

from etl.source.landing import LandingFile


class LoadStatus(StrEnum):
    """What became of a landing file (ops.load_log.status; `unchanged` is never logged)."""

    # its records are in the warehouse or quarantine
    LOADED = "loaded"
    # it could not be read whole: every record read from it is in quarantine
    REJECTED = "rejected"
    # an error interrupted its load: nothing of it was kept, the next run tries again
    FAILED = "failed"
    # `warehouse erase --scrub-landing` rewrote it without erased customers; the warehouse holds
    # what the new content says, and the load it follows is still what its counts describe
    SCRUBBED = "scrubbed"
    # loaded before with the same checksum: left alone
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class FileLoad:
    """The outcome of one landing file, as logged (status: a LoadStatus)."""

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


_COLUMNS = (
    "dataset", "partition_date", "partition_hour", "source_file", "checksum", "status",
    "records_read", "records_loaded", "records_duplicate", "records_quarantined",
    "records_erased", "records_scrubbed", "orphans", "error", "started_at",
)  # fmt: skip


def loaded_checksums(conn: psycopg.Connection, files: Sequence[LandingFile]) -> dict[str, str]:
    """The checksum of each file's content now in the warehouse, by relative path (files that
    never loaded are absent)."""
    days = [f.partition_date for f in files]
    rows = conn.execute(
        # the files' days bound the months of the log that are read
        "SELECT source_file, checksum FROM ops.loads_in_effect(%s, %s) WHERE source_file = ANY(%s)",
        (min(days), max(days), [f.relative_path for f in files]),
    )
    return dict(rows.fetchall())


def in_effect(conn: psycopg.Connection, landing_file: LandingFile) -> FileLoad | None:
    """The file's load in effect, as logged, or None when it never loaded."""
    row = conn.execute(
        """
        SELECT status, checksum, records_read, records_loaded, records_duplicate,
               records_quarantined, records_erased, records_scrubbed, orphans, error
        FROM ops.loads_in_effect(%s, %s) WHERE source_file = %s
        """,
        (landing_file.partition_date, landing_file.partition_date, landing_file.relative_path),
    ).fetchone()
    return None if row is None else FileLoad(landing_file, *row)


def record_many(conn: psycopg.Connection, loads: Sequence[FileLoad], started_at: datetime) -> None:
    """Append `loads` to the log (inside the caller's transaction), in one COPY."""
    statement = f"COPY ops.load_log ({', '.join(_COLUMNS)}) FROM STDIN"
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for load in loads:
            landing_file = load.landing_file
            copy.write_row(
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
                )
            )
