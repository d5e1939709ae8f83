"""What each dataset module provides to the shared batch loader (etl/loading/file_load.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg

from etl.encryption.keystore import KeyRing
from etl.privacy.erasure import ErasedCustomers
from etl.source.landing import LandingFile

if TYPE_CHECKING:
    from etl.encryption.sealing import Sealing

# (staging table, row in that table's column order, without file_number)
StagingRow = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class TempTable:
    """A temporary table of a connection: created once per connection, emptied at every commit.

    Created once, not per load: creating and dropping temporary tables for every file was a
    tenth of a small file's load (catalog rows written and deleted each time).
    """

    name: str
    columns: tuple[str, ...]
    column_types: tuple[str, ...]

    @property
    def create_sql(self) -> str:
        columns = ", ".join(
            f"{c} {t}" for c, t in zip(self.columns, self.column_types, strict=True)
        )
        return f"CREATE TEMP TABLE IF NOT EXISTS {self.name} ({columns}) ON COMMIT DELETE ROWS"

    def with_columns(self, name: str, *columns: tuple[str, str]) -> TempTable:
        """A table of the same columns and more, e.g. the winners of a merge."""
        return TempTable(
            name,
            self.columns + tuple(c for c, _ in columns),
            self.column_types + tuple(t for _, t in columns),
        )


def staging_table(name: str, columns: tuple[str, ...], column_types: tuple[str, ...]) -> TempTable:
    """A table a batch's clean records are copied into before the merge. Its first column,
    `file_number`, says which of the batch's files a row came from (its index in
    LoadContext.files, and a key of the temporary table stg_files)."""
    return TempTable(name, ("file_number", *columns), ("integer", *column_types))


@dataclass(frozen=True)
class MergeResult:
    """What a merge did with one file's valid records."""

    loaded: int = 0
    duplicate: int = 0
    orphans: int = 0
    # loaded without their personal part, because their customer is erased
    scrubbed: int = 0
    # dropped, because a pending erasure request matched them on arrival
    erased: int = 0


# file_number -> what the merge did with that file's records (files without any: absent)
MergeResults = Mapping[int, MergeResult]


class CustomerErased(Exception):
    """The record belongs to an erased customer and must not be stored."""


@dataclass(frozen=True)
class LoadContext:
    """What a transform or a merge may need beyond the records.

    Attributes:
        pseudonym_key: the HMAC key of pseudonyms.
        erased: the tombstones in force, read once per batch under the erasure lock.
        files: the batch's files; a file's number is its index here (in stg_files too).
        keys: the data keys of the batch's customers and of today's quarantine, fetched from
            the keystore (or made) once per batch.
    """

    pseudonym_key: bytes
    erased: ErasedCustomers = field(default_factory=ErasedCustomers)
    files: tuple[LandingFile, ...] = ()
    keys: KeyRing | None = None

    def is_erased(self, customer_id: str) -> bool:
        return bool(self.erased) and self.erased.covers(customer_id, self.pseudonym_key)


@dataclass(frozen=True)
class Dataset:
    """A dataset's rules, as the shared loader (etl/loading/file_load.py) runs them.

    A batch of the dataset's files is staged together and merged together; every merge works
    set-wise on the staged rows of all the batch's files and reports per file.

    Attributes:
        name: the landing file name without extension, and the schema's name.
        subject_field: the field of a record that names its customer (the erased are matched
            by it), or None when records name nobody.
        rows_table: the table whose rows its loads produce, as `warehouse status` counts them.
        source_tables: the tables whose rows name the landing file they came from
            (`source_file`): a row whose file has no load in effect is unaccounted for.
        counted_tables: of those, the ones where a file leaves at most as many rows as its load
            logged loaded (elsewhere rows are current versions that later files may take over).
        every_hour: a file arrives every hour, so a missing hour is a gap in the feed (customers
            come only when some changed; the catalogue daily).
        staging: the temporary tables clean records are copied into (see `staging_table`).
        working: other temporary tables its merge fills (winners and the like).
        to_staging: a schema-valid record and its line number -> staging rows (pure; raises
            RecordRejected for rule violations beyond the schema, CustomerErased to drop it).
        merge: moves the staged rows of a batch into the warehouse and says, per file number,
            what it did; runs inside the batch's transaction.
        forget: removes what earlier versions of landing files contributed, before those files
            are loaded again because their content changed.
        exclusive: its loads run alone (erasure): no other load runs while one of its batches
            does.
        erases_on_arrival: its merge may carry out pending erasure requests, taking the erasure
            lock exclusively while it holds it shared; its loads therefore take turns from their
            start, or two of them would each wait for the other's shared lock (a deadlock).
        staged_months: a query of the months (first days) the staged rows fall in, when its
            merge writes to tables partitioned by a date of the rows (transactions); without
            it, only the landing files' months are written (load log, quarantine).
        merges_concurrently: its merges need not take turns: each resolves a race with another
            batch itself (transactions: see its merge). Otherwise one batch merges at a time.
        sealing: the personal data of its staged rows, encrypted before they are staged.
    """

    name: str
    staging: tuple[TempTable, ...]
    to_staging: Callable[[dict[str, Any], int, LoadContext], Iterable[StagingRow]]
    merge: Callable[[psycopg.Connection, LoadContext], MergeResults]
    forget: Callable[[psycopg.Connection, Sequence[LandingFile]], None]
    working: tuple[TempTable, ...] = ()
    subject_field: str | None = None
    rows_table: str | None = None
    source_tables: tuple[str, ...] = ()
    counted_tables: tuple[str, ...] = ()
    every_hour: bool = False
    exclusive: bool = False
    erases_on_arrival: bool = False
    staged_months: str | None = None
    merges_concurrently: bool = False
    sealing: Sealing | None = None

    @property
    def parallel(self) -> bool:
        """Whether its batches may load in several processes at once (`warehouse run
        --workers`): not when its loads run alone or take turns anyway."""
        return not (self.exclusive or self.erases_on_arrival)
