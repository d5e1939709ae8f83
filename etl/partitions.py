"""Load one partition of one dataset: every landing file of that dataset in one date (and hour).

The orchestrator materialises the landing zone partition by partition; loading a partition is
the same file-by-file load `warehouse run` does, restricted to that partition's folder.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from etl import landing
from etl.database import connect, database_url
from etl.landing import LandingFile
from etl.migrations import migrate
from etl.runner import DatasetSummary, RunSummary, dataset, load_one
from etl.settings import Settings


def partition_files(
    root: Path, name: str, partition_date: date, partition_hour: int | None = None
) -> list[LandingFile]:
    """The landing files of dataset `name` dated `partition_date`, in `partition_hour` only when
    given (an hourly partition), else of every hour (a daily partition), oldest first."""
    return [
        landing_file
        for landing_file in landing.discover(root, (name,), partition_date, partition_date)
        if partition_hour is None or landing_file.partition_hour == partition_hour
    ]


def load_partition(
    settings: Settings, name: str, partition_date: date, partition_hour: int | None = None
) -> RunSummary:
    """Load the partition's files in order, each in its own transaction, as `runner.run` does.

    Returns the run summary; `totals(summary, name)` gives the partition's files by status and
    its records read, loaded, duplicate, quarantined, erased and orphaned.
    """
    files = partition_files(settings.raw_data_dir, name, partition_date, partition_hour)
    summary = RunSummary()
    url = database_url(settings)
    conn = connect(url)
    try:
        migrate(conn)
        for landing_file in files:
            conn, load = load_one(conn, url, dataset(name), settings, landing_file)
            summary.add(load)
    finally:
        conn.close()
    return summary


def totals(summary: RunSummary, name: str) -> DatasetSummary:
    """The dataset's totals in `summary` (all zero when the partition held no file)."""
    return summary.datasets.get(name, DatasetSummary())
