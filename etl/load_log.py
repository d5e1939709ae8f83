"""The load log (ops.load_log): one row per attempt to load a landing file."""

from __future__ import annotations

from collections.abc import Sequence
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


# The load-log statuses whose content is in the warehouse now: a file's latest load of one of
# these is the load in effect (a `failed` load left nothing).
IN_EFFECT_STATUSES = ("loaded", "rejected", "scrubbed")

_COLUMNS = (
    "dataset", "partition_date", "partition_hour", "source_file", "checksum", "status",
    "records_read", "records_loaded", "records_duplicate", "records_quarantined",
    "records_erased", "records_scrubbed", "orphans", "error", "started_at",
)  # fmt: skip


def loaded_checksums(conn: psycopg.Connection, files: Sequence[LandingFile]) -> dict[str, str]:
    """The checksum of each file's content now in the warehouse, by relative path (files that
    never loaded are absent)."""
    rows = conn.execute(
        """
        SELECT DISTINCT ON (source_file) source_file, checksum FROM ops.load_log
        WHERE source_file = ANY(%s) AND status = ANY(%s)
          AND partition_date = ANY(%s)  -- the files' months: those partitions of the log only
        ORDER BY source_file, load_id DESC
        """,
        (
            [f.relative_path for f in files],
            list(IN_EFFECT_STATUSES),
            sorted({f.partition_date for f in files}),
        ),
    )
    return dict(rows.fetchall())


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
