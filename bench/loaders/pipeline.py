"""The project's full pipeline: validate, clean, pseudonymise, quarantine, merge, log each file."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from bench.loaders import DATASET, Loaded, LoadOptions
from etl.loading.runner import run
from etl.settings import Settings
from etl.source.landing import Window


def load(database_url: str, raw_data: Path, options: LoadOptions) -> Loaded:
    """`warehouse run --dataset transactions --workers N` on `raw_data`, in this process."""
    settings = Settings(
        database_url=database_url,
        home=Path(tempfile.mkdtemp(prefix="bench-warehouse-home-")),
        raw_data_dir=raw_data,
        pseudonym_key=options.pseudonym_key,
        environment="development",
    )
    window = Window.of_days(
        date.fromisoformat(options.start) if options.start else None,
        date.fromisoformat(options.end) if options.end else None,
    )
    summary = run(settings, (DATASET,), window, show_progress=False, workers=options.workers)
    if not summary.ok:
        raise RuntimeError("the pipeline failed:\n" + summary.render())
    loaded = summary.datasets.get(DATASET)
    return Loaded(loaded.records["read"] if loaded else 0)
