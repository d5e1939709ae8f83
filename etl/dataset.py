"""What each dataset module provides to the shared file loader."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from etl.erasure import ErasedCustomers
from etl.landing import LandingFile

# (staging table, row in that table's column order)
StagingRow = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class StagingTable:
    """A temporary table a file's clean records are copied into before the merge."""

    name: str
    columns: tuple[str, ...]
    column_types: tuple[str, ...]

    @property
    def create_sql(self) -> str:
        columns = ", ".join(
            f"{c} {t}" for c, t in zip(self.columns, self.column_types, strict=True)
        )
        return f"CREATE TEMP TABLE {self.name} ({columns}) ON COMMIT DROP"


@dataclass(frozen=True)
class MergeResult:
    """What a merge did with a file's valid records."""

    loaded: int
    duplicate: int
    orphans: int = 0
    # loaded without their personal part, because their customer is erased
    scrubbed: int = 0
    # dropped, because a pending erasure request matched them on arrival
    erased: int = 0


class CustomerErased(Exception):
    """The record belongs to an erased customer and must not be stored."""


@dataclass(frozen=True)
class LoadContext:
    """What a transform or merge may need beyond the record itself."""

    landing_file: LandingFile
    pseudonym_key: bytes
    erased: ErasedCustomers = field(default_factory=ErasedCustomers)

    def is_erased(self, customer_id: str) -> bool:
        return bool(self.erased) and self.erased.covers(customer_id, self.pseudonym_key)


@dataclass(frozen=True)
class Dataset:
    """A dataset's rules, as the shared loader (etl/file_load.py) runs them.

    Attributes:
        name: the landing file name without extension, and the schema's name.
        staging: the temporary tables clean records are copied into.
        to_staging: a schema-valid record and its line number -> staging rows (pure; raises
            RecordRejected for rule violations beyond the schema, CustomerErased to drop it).
        merge: moves the staged rows of one file into the warehouse; runs inside the file's
            transaction.
        forget: removes what an earlier version of a landing file contributed, before that file
            is loaded again because its content changed.
        exclusive: its loads run alone (erasure): no other load runs while one of its files does.
        erases_on_arrival: its merge may carry out pending erasure requests, taking the erasure
            lock exclusively while it holds it shared; its loads therefore take turns from their
            start, or two of them would each wait for the other's shared lock (a deadlock).
        staged_months: a query of the months (first days) the staged rows fall in, when its
            merge writes to tables partitioned by a date of the rows (transactions); without
            it, only the landing file's month is written (load log, quarantine).
        merges_concurrently: its merges need not take turns: each resolves a race with another
            file's itself (transactions: see its merge). Otherwise one file merges at a time.
    """

    name: str
    staging: tuple[StagingTable, ...]
    to_staging: Callable[[dict[str, Any], int, LoadContext], Iterable[StagingRow]]
    merge: Callable[[psycopg.Connection, LoadContext], MergeResult]
    forget: Callable[[psycopg.Connection, LandingFile], None]
    exclusive: bool = False
    erases_on_arrival: bool = False
    staged_months: str | None = None
    merges_concurrently: bool = False

    @property
    def parallel(self) -> bool:
        """Whether its files may load in several processes at once (`warehouse run --workers`):
        not when its loads run alone or take turns anyway."""
        return not (self.exclusive or self.erases_on_arrival)
