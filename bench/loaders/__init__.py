"""The loaders the benchmark measures; each loads the transactions of a landing zone.

Every loader is a function `load(database_url, raw_data, options) -> Loaded`, run in a fresh
subprocess of its own (see bench/measure.py), into a fresh database.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg

from etl.source.landing import LandingFile, discover
from etl.warehouse import monthly_partitions

# name -> "module:function", in the order the report lists them: the limit first.
LOADERS = {
    "bare_copy": "bench.loaders.bare_copy:load",
    "pipeline": "bench.loaders.pipeline:load",
    "warehouse_run": "bench.loaders.warehouse_run:load",
    "dlt": "bench.loaders.dlt_merge:load",
    "row_by_row": "bench.loaders.row_by_row:load",
    "row_by_row_compiled": "bench.loaders.row_by_row:load_compiled",
}
# Loaders that stop at a time cap and are extrapolated.
CAPPED = ("row_by_row", "row_by_row_compiled")
LIMIT = "bare_copy"

# What every loader loads: the transactions of the landing zone, the datasets the sizes count.
DATASET = "transactions"


@dataclass(frozen=True)
class LoadOptions:
    """How a loader may run: worker processes, a time cap, the pseudonym key, a date range."""

    workers: int = 1
    cap_seconds: float | None = None
    pseudonym_key: bytes = b"bench-pseudonym-key-not-a-secret-0000"
    start: str | None = None
    end: str | None = None


@dataclass(frozen=True)
class Loaded:
    """What a loader did: records it processed, and whether it stopped at its time cap."""

    records: int
    capped: bool = False


def loader(name: str) -> Callable[[str, Path, LoadOptions], Loaded]:
    """The load function of the loader called `name`."""
    module, function = LOADERS[name].split(":")
    return getattr(importlib.import_module(module), function)


def transaction_files(raw_data: Path, options: LoadOptions) -> list[LandingFile]:
    """The landing zone's transaction files in the order the pipeline loads them."""
    start = date.fromisoformat(options.start) if options.start else None
    end = date.fromisoformat(options.end) if options.end else None
    return discover(raw_data, (DATASET,), start, end)


def prepare_months(database_url: str, raw_data: Path, options: LoadOptions) -> None:
    """Create the monthly partitions (sql-scripts/020_partitioning.sql) the loaders that write
    the tables themselves need: each file's month and the month before (a transaction just
    before midnight on a month's last day lands in the next month's first folder)."""
    months = set()
    for landing_file in discover(raw_data, (DATASET,)):
        month = monthly_partitions.month_of(landing_file.partition_date)
        months |= {month, monthly_partitions.month_of(month - timedelta(days=1))}
    with psycopg.connect(database_url) as conn:
        monthly_partitions.ensure(conn, months)
