"""Run datasets over the landing zone: file after file, each in its own transaction."""

from __future__ import annotations

import importlib
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import psycopg
from tqdm import tqdm

from etl import landing, marts
from etl.database import connect, database_url
from etl.dataset import Dataset, LoadContext
from etl.file_load import load_file, record_failure
from etl.landing import DATASETS
from etl.load_log import FileLoad
from etl.migrations import migrate
from etl.settings import Settings

log = logging.getLogger(__name__)


def dataset(name: str) -> Dataset:
    """The Dataset defined by etl/<name>_etl.py."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return importlib.import_module(f"etl.{name.replace('-', '_')}_etl").DATASET


@dataclass
class DatasetSummary:
    """Totals of one dataset's files in a run (no per-file state: memory stays flat)."""

    files: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)

    def add(self, load: FileLoad) -> None:
        self.files[load.status] += 1
        self.records.update(
            read=load.read,
            loaded=load.loaded,
            duplicate=load.duplicate,
            quarantined=load.quarantined,
            erased=load.erased,
            scrubbed=load.scrubbed,
            orphans=load.orphans,
        )


@dataclass
class RunSummary:
    """What a run did, per dataset, and the files that failed."""

    datasets: dict[str, DatasetSummary] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, load: FileLoad) -> None:
        self.datasets.setdefault(load.landing_file.dataset, DatasetSummary()).add(load)
        if load.status == "failed":
            self.failures.append(f"{load.landing_file.relative_path}: {load.error}")

    @property
    def ok(self) -> bool:
        return not self.failures

    def render(self) -> str:
        lines = []
        for name, summary in self.datasets.items():
            files = ", ".join(f"{n} {status}" for status, n in sorted(summary.files.items()))
            r = summary.records
            lines.append(
                f"{name}: files {files}; records read {r['read']}, loaded {r['loaded']}, "
                f"duplicate {r['duplicate']}, quarantined {r['quarantined']}, "
                f"erased {r['erased']}, scrubbed {r['scrubbed']}, orphans {r['orphans']}"
            )
        lines.extend(f"FAILED {failure}" for failure in self.failures)
        return "\n".join(lines) or "no landing files matched"


def run(
    settings: Settings,
    datasets: Iterable[str] = DATASETS,
    start: date | None = None,
    end: date | None = None,
    show_progress: bool | None = None,
    force: bool = False,
) -> RunSummary:
    """Load every landing file of `datasets` dated start..end (inclusive), oldest first.

    Datasets run in the order of DATASETS (products, customers, transactions, erasure requests),
    so that a transaction's products and customer are usually known when it loads.
    A file that fails is logged and the run goes on with the next. `force` reloads files even
    when their content has not changed since they were loaded (a replay). The run ends by
    refreshing the marts for the days its loads changed (etl/marts.py).
    """
    summary = RunSummary()
    url = database_url(settings)
    selected = [name for name in DATASETS if name in set(datasets)]
    conn = connect(url)
    try:
        migrate(conn)
        for name in selected:
            files = landing.discover(settings.raw_data_dir, (name,), start, end)
            # disable=None: a bar on a terminal, plain log lines otherwise
            disable = None if show_progress is None else not show_progress
            progress = tqdm(files, desc=name, unit="file", disable=disable)
            for landing_file in progress:
                conn, load = _load_one(conn, url, dataset(name), settings, landing_file, force)
                summary.add(load)
                if load.status != "unchanged":
                    log.info(
                        "%s %s: read %d, loaded %d, duplicate %d, quarantined %d, erased %d, "
                        "orphans %d",
                        load.status,
                        landing_file.relative_path,
                        load.read,
                        load.loaded,
                        load.duplicate,
                        load.quarantined,
                        load.erased,
                        load.orphans,
                    )
        # The marts follow every run (the days its loads changed, nothing when none did).
        log.info("marts refreshed for %d days", marts.refresh(conn))
    finally:
        conn.close()
    return summary


def _load_one(
    conn: psycopg.Connection,
    url: str,
    dataset_: Dataset,
    settings: Settings,
    landing_file: landing.LandingFile,
    force: bool,
) -> tuple[psycopg.Connection, FileLoad]:
    """Load one file; on an error, log the failure (reconnecting if the connection was lost)."""
    started_at = datetime.now(UTC)
    try:
        context = LoadContext(landing_file, settings.pseudonym_key)
        return conn, load_file(conn, dataset_, context, force)
    except Exception as error:  # one bad file must not stop the run
        log.exception("failed to load %s", landing_file.relative_path)
        if conn.closed or conn.broken:
            conn.close()
            conn = connect(url)
        return conn, record_failure(conn, landing_file, error, started_at)
