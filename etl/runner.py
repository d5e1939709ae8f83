"""Run datasets over the landing zone: file after file, or N at once, each in one transaction."""

from __future__ import annotations

import importlib
import logging
import multiprocessing
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import repeat

import psycopg
from tqdm import tqdm

from etl import landing
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
    workers: int = 1,
) -> RunSummary:
    """Load every landing file of `datasets` dated start..end (inclusive), oldest first.

    Datasets run in the order of DATASETS (products, customers, transactions, erasure requests),
    so that a transaction's products and customer are usually known when it loads.
    A file that fails is logged and the run goes on with the next. `force` reloads files even
    when their content has not changed since they were loaded (a replay). With `workers` > 1 the
    files of a dataset that allows it load in that many processes at once; every file of a
    dataset is loaded before the next dataset starts.
    """
    summary = RunSummary()
    url = database_url(settings)
    selected = [name for name in DATASETS if name in set(datasets)]
    conn = connect(url)
    pool: Executor | None = None
    try:
        migrate(conn)
        for name in selected:
            files = landing.discover(settings.raw_data_dir, (name,), start, end)
            # disable=None: a bar on a terminal, plain log lines otherwise
            disable = None if show_progress is None else not show_progress
            progress = tqdm(files, desc=name, unit="file", disable=disable)
            if workers > 1 and len(files) > 1 and dataset(name).parallel:
                pool = pool or _worker_pool(url, workers)
                for load in _load_in_pool(pool, name, settings, files, force):
                    progress.update()
                    summary.add(load)
                    _log_load(load)
                progress.close()
                continue
            for landing_file in progress:
                conn, load = _load_one(conn, url, dataset(name), settings, landing_file, force)
                summary.add(load)
                _log_load(load)
    finally:
        conn.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return summary


def _log_load(load: FileLoad) -> None:
    if load.status != "unchanged":
        log.info(
            "%s %s: read %d, loaded %d, duplicate %d, quarantined %d, erased %d, orphans %d",
            load.status,
            load.landing_file.relative_path,
            load.read,
            load.loaded,
            load.duplicate,
            load.quarantined,
            load.erased,
            load.orphans,
        )


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


# Worker processes. Each holds its own connection and loads one file at a time with _load_one,
# exactly as a sequential run does: the per-file and merge advisory locks of etl/file_load.py
# keep parallel loads of one dataset apart where they touch the same keys.
_worker_url = ""
_worker_conn: psycopg.Connection | None = None


def _worker_pool(url: str, workers: int) -> Executor:
    """Processes started afresh (spawn): a forked child would share the parent's connection."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(url, logging.getLogger().level),
    )


def _start_worker(url: str, log_level: int) -> None:
    global _worker_url, _worker_conn
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _worker_url, _worker_conn = url, connect(url)


def _load_in_worker(
    name: str, settings: Settings, landing_file: landing.LandingFile, force: bool
) -> FileLoad:
    global _worker_conn
    _worker_conn, load = _load_one(
        _worker_conn, _worker_url, dataset(name), settings, landing_file, force
    )
    return load


def _load_in_pool(
    pool: Executor,
    name: str,
    settings: Settings,
    files: list[landing.LandingFile],
    force: bool,
) -> Iterator[FileLoad]:
    """Each file's load, in the order of `files`, as the workers finish them."""
    yield from pool.map(_load_in_worker, repeat(name), repeat(settings), files, repeat(force))
