"""Load partitions of one dataset: every landing file of that dataset in a range of dates and
hours.

The orchestrator materialises the landing zone partition by partition, or a range of them at
once in a backfill; loading them is the same batched load `warehouse run` does, restricted to
their folders.
"""

from __future__ import annotations

from etl.landing import Window
from etl.runner import DatasetSummary, RunSummary, run
from etl.settings import Settings


def load_partitions(settings: Settings, name: str, window: Window) -> RunSummary:
    """Load the window's files of dataset `name` in order, in batches, as `warehouse run` does.

    Returns the run summary; `totals(summary, name)` gives the files by status and the records
    read, loaded, duplicate, quarantined, erased and orphaned.
    """
    return run(settings, (name,), window, show_progress=False)


def totals(summary: RunSummary, name: str) -> DatasetSummary:
    """The dataset's totals in `summary` (all zero when the window held no file)."""
    return summary.datasets.get(name, DatasetSummary())
