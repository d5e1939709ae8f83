"""Load one partition of one dataset: every landing file of that dataset in one date (and hour).

The orchestrator materialises the landing zone partition by partition; loading a partition is
the same file-by-file load `warehouse run` does, restricted to that partition's folder.
"""

from __future__ import annotations

from datetime import date

from etl.runner import DatasetSummary, RunSummary, run
from etl.settings import Settings


def load_partition(
    settings: Settings, name: str, partition_date: date, partition_hour: int | None = None
) -> RunSummary:
    """Load the partition's files in order, each in its own transaction, as `warehouse run` does.

    Returns the run summary; `totals(summary, name)` gives the partition's files by status and
    its records read, loaded, duplicate, quarantined, erased and orphaned.
    """
    return run(
        settings, (name,), partition_date, partition_date, show_progress=False, hour=partition_hour
    )


def totals(summary: RunSummary, name: str) -> DatasetSummary:
    """The dataset's totals in `summary` (all zero when the partition held no file)."""
    return summary.datasets.get(name, DatasetSummary())
