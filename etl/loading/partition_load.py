"""Load partitions of one dataset: every landing file of that dataset in a range of dates and
hours.

The orchestrator materialises the landing zone partition by partition, or a range of them at
once in a backfill; loading them is the same batched load `warehouse run` does, restricted to
their folders.
"""

from __future__ import annotations

from datetime import date

from etl.loading.run_summary import DatasetSummary, RunSummary
from etl.loading.runner import run
from etl.settings import Settings
from etl.source.landing import Window


def load_partitions(settings: Settings, name: str, window: Window) -> RunSummary:
    """Load the window's files of dataset `name` in order, in batches, as `warehouse run` does.

    Returns the run summary, with the totals of each landing folder: `totals` gives those of the
    whole window or of one date (and hour).
    """
    return run(settings, (name,), window, show_progress=False, by_folder=True)


def totals(
    summary: RunSummary, name: str, day: date | None = None, hour: int | None = None
) -> DatasetSummary:
    """The dataset's totals in `summary`: of every file, or of the files of one date (and
    hour); all zero when there were none."""
    if day is None:
        return summary.datasets.get(name, DatasetSummary())
    found = DatasetSummary()
    for (dataset, folder_day, folder_hour), folder in (summary.folders or {}).items():
        if dataset == name and folder_day == day and hour in (None, folder_hour):
            found.files.update(folder.files)
            found.records.update(folder.records)
    return found
