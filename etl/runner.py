"""Run datasets over the landing zone: file after file, or N at once, each in one transaction."""

from __future__ import annotations

import ctypes
import importlib
import logging
import multiprocessing
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import repeat

import psycopg
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)
from tqdm import tqdm

from etl import encryption_upgrade, erasure, file_load, landing, marts, quarantine, table_partitions
from etl.database import (
    connect,
    database_url,
    describe_error,
    is_connection_lost,
    is_transient,
)
from etl.dataset import Dataset
from etl.keystore import Keystore, keystore_url
from etl.landing import DATASETS
from etl.load_log import FileLoad, LoadStatus
from etl.migrations import migrate
from etl.settings import Settings

log = logging.getLogger(__name__)

# A file whose load the database interrupted (connection lost, server restarting, deadlock) is
# loaded again from the start, its transaction having rolled back, up to LOAD_ATTEMPTS times
# within LOAD_RETRY_SECONDS (each new connection may itself wait CONNECT_RETRY_SECONDS). A
# connection still lost after that stops the run, rather than failing every remaining file.
LOAD_ATTEMPTS = 5
LOAD_RETRY_SECONDS = 60


class DatabaseUnavailable(RuntimeError):
    """The database stayed out of reach beyond the retry bound: the run stops, the next resumes."""


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
    # why the run stopped before its last file (the database stayed out of reach), if it did
    aborted: str | None = None
    # files in the landing zone that are not drops: not loaded, and shown so nobody misses them
    unrecognised: list[landing.UnrecognisedFile] = field(default_factory=list)
    # totals per landing folder, (dataset, date, hour), when the run was asked to keep them
    folders: dict[tuple[str, date, int], DatasetSummary] | None = None

    def add(self, load: FileLoad) -> None:
        landing_file = load.landing_file
        self.datasets.setdefault(landing_file.dataset, DatasetSummary()).add(load)
        if self.folders is not None:
            folder = (
                landing_file.dataset,
                landing_file.partition_date,
                landing_file.partition_hour,
            )
            self.folders.setdefault(folder, DatasetSummary()).add(load)
        if load.status == LoadStatus.FAILED:
            self.failures.append(f"{load.landing_file.relative_path}: {load.error}")

    @property
    def ok(self) -> bool:
        return not self.failures and self.aborted is None

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
        lines.extend(
            f"NOT LOADED {entry.relative_path}: {entry.reason}" for entry in self.unrecognised
        )
        if self.aborted:
            lines.append(f"ABORTED {self.aborted}")
        return "\n".join(lines) or "no landing files matched"


def run(
    settings: Settings,
    datasets: Iterable[str] = DATASETS,
    window: landing.Window = landing.EVERYTHING,
    show_progress: bool | None = None,
    force: bool = False,
    workers: int = 1,
    by_folder: bool = False,
) -> RunSummary:
    """Load every landing file of `datasets` in `window` (default: all of them), oldest first.

    Datasets run in the order of DATASETS (products, customers, transactions, erasure requests),
    so that a transaction's products and customer are usually known when it loads. A dataset's
    files load in batches of consecutive files (etl.file_load.batches), each in one
    transaction. A batch that fails is loaded again file by file, so that only the file at
    fault fails: it is logged and the run goes on. When the database stays out of reach beyond
    the retry bound, the run stops and says so in `aborted`. `force` reloads files even when
    their content has not changed since they were loaded (a replay).
    Before loading and after, the data keys of erased customers whose destruction a crash
    interrupted are destroyed (etl/erasure.py); at the end, the quarantine's day keys past the
    retention period too. The run ends by refreshing the marts for the days its loads changed
    (etl/marts.py).
    With `workers` > 1 the batches of a dataset that allows it load in that many processes at
    once; every file of a dataset is loaded before the next dataset starts. With `by_folder`
    the summary also keeps the totals of each landing folder (RunSummary.folders).
    """
    summary = RunSummary(folders={} if by_folder else None)
    url = database_url(settings)
    selected = tuple(name for name in DATASETS if name in set(datasets))
    scanned = landing.scan(settings.raw_data_dir, selected, window)
    conn = None
    keys: Keystore | None = None
    pool: Executor | None = None
    try:
        for attempt in _retrying("migrating the warehouse"):
            with attempt:
                conn = _reconnected(conn, url)
                migrate(conn)
                keys = keys or Keystore.open(
                    keystore_url(settings.keystore_url, url), settings.master, url
                )
                encryption_upgrade.encrypt_plaintext(conn, keys, settings.pseudonym_key)
                erasure.destroy_erased_keys(conn, keys)
                # Every month the run's files are dated in, before any load starts: loads then
                # seldom create a month while others merge (etl/table_partitions.py).
                table_partitions.ensure(
                    conn, {table_partitions.month_of(f.partition_date) for f in scanned.drops}
                )
        for name in selected:
            files = [f for f in scanned.drops if f.dataset == name]
            # disable=None: a bar on a terminal, plain log lines otherwise
            disable = None if show_progress is None else not show_progress
            progress = tqdm(total=len(files), desc=name, unit="file", disable=disable)
            batches = list(file_load.batches(files))
            if workers > 1 and len(batches) > 1 and dataset(name).parallel:
                pool = pool or _worker_pool(url, workers)
                for loads in _load_in_pool(pool, name, settings, batches, force):
                    _add(summary, progress, loads)
            else:
                for batch in batches:
                    conn, loads = _load_batch(
                        conn, url, dataset(name), settings, batch, force, keys
                    )
                    _add(summary, progress, loads)
            progress.close()
            conn = _reconnected(conn, url)
            erasure.destroy_erased_keys(conn, keys)
        quarantine.expire(conn, keys, settings.quarantine_retention_days)
        conn = _refresh_marts(conn, url)
    except DatabaseUnavailable as error:
        summary.aborted = str(error)
    except psycopg.OperationalError as error:
        if not is_connection_lost(error):
            raise
        summary.aborted = f"cannot reach the database: {describe_error(error)}; nothing was loaded"
    finally:
        if conn is not None:
            conn.close()
        if keys is not None:
            keys.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if summary.aborted:
        log.error("run stopped: %s", summary.aborted)
    summary.unrecognised = scanned.unrecognised
    for entry in summary.unrecognised:
        log.warning("not loaded: %s: %s", entry.relative_path, entry.reason)
    return summary


def _log_load(load: FileLoad) -> None:
    if load.status != LoadStatus.UNCHANGED:
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


def _add(summary: RunSummary, progress: tqdm, loads: list[FileLoad]) -> None:
    progress.update(len(loads))
    for load in loads:
        summary.add(load)
        _log_load(load)


class _Interrupted(Exception):
    """A batch of several files lost its connection mid-way (its transaction rolled back)."""


def _load_batch(
    conn: psycopg.Connection | None,
    url: str,
    dataset_: Dataset,
    settings: Settings,
    files: list[landing.LandingFile],
    force: bool = False,
    keys: Keystore | None = None,
) -> tuple[psycopg.Connection, list[FileLoad]]:
    """Load a batch of files, again from the start after a transient database error.

    A batch of several files that loses its connection mid-way is loaded again in two halves
    (each with retries of its own), so that a connection that keeps dropping long transactions
    still gets every file through. A batch that fails otherwise has its files loaded one by
    one, so that only the file at fault fails (logged as failed).

    Raises:
        DatabaseUnavailable: the connection stayed lost beyond the retry bound.
    """
    started_at = datetime.now(UTC)
    what = _describe_batch(files)
    retrying = _retrying(what)
    try:
        for attempt in retrying:
            with attempt:
                conn = _reconnected(conn, url)
                try:
                    loads = file_load.load_files(
                        conn,
                        dataset_,
                        files,
                        settings.pseudonym_key,
                        force,
                        settings.schema_contracts[dataset_.name],
                        keys,
                    )
                except psycopg.Error as error:
                    if len(files) > 1 and is_connection_lost(error):
                        raise _Interrupted from error
                    raise
                return conn, loads
    except _Interrupted as interrupted:
        log.warning(
            "%s: %s; trying again in two halves", what, describe_error(interrupted.__cause__)
        )
        half = len(files) // 2
        conn, first = _load_batch(conn, url, dataset_, settings, files[:half], force, keys)
        conn, second = _load_batch(conn, url, dataset_, settings, files[half:], force, keys)
        return conn, first + second
    except Exception as error:  # one bad file must not stop the run
        if is_connection_lost(error):
            attempts = retrying.statistics.get("attempt_number", 1)
            raise DatabaseUnavailable(
                f"database unreachable while loading {what}, {attempts} attempts: "
                f"{describe_error(error)}; the next run resumes from there"
            ) from error
        if len(files) > 1:
            log.warning("%s: %s; loading its files one by one", what, describe_error(error))
            loads = []
            for landing_file in files:
                conn, loaded = _load_batch(
                    conn, url, dataset_, settings, [landing_file], force, keys
                )
                loads += loaded
            return conn, loads
        log.exception("failed to load %s", what)
        try:
            conn = _reconnected(conn, url)
            return conn, [file_load.record_failure(conn, files[0], error, started_at)]
        except psycopg.OperationalError as lost:
            raise DatabaseUnavailable(
                f"database unreachable while logging the failure of {what}: {describe_error(lost)}"
            ) from lost


def _describe_batch(files: list[landing.LandingFile]) -> str:
    if len(files) == 1:
        return files[0].relative_path
    return f"{files[0].relative_path}..{files[-1].relative_path} ({len(files)} files)"


def _refresh_marts(conn: psycopg.Connection, url: str) -> psycopg.Connection:
    """Refresh the marts for the days the run's loads changed (nothing when none did).

    Raises:
        DatabaseUnavailable: the database stayed out of reach; the loads are kept, and the next
            run or `warehouse marts refresh` refreshes their days.
    """
    try:
        for attempt in _retrying("refreshing the marts"):
            with attempt:
                conn = _reconnected(conn, url)
                log.info("marts refreshed for %d days", marts.refresh(conn))
    except psycopg.OperationalError as error:
        if not is_connection_lost(error):
            raise
        raise DatabaseUnavailable(
            f"database unreachable while refreshing the marts: {describe_error(error)}; the "
            "loads are kept and the next run refreshes their days"
        ) from error
    return conn


def _reconnected(conn: psycopg.Connection | None, url: str) -> psycopg.Connection:
    """`conn`, or a new connection when it was lost (a load that failed rolled back anyway)."""
    if conn is not None and not (conn.closed or conn.broken):
        return conn
    if conn is not None:
        conn.close()
    return connect(url)


def _retrying(what: str) -> Retrying:
    """Attempts at `what`, again after a transient database error, within the bound."""

    def log_retry(state: RetryCallState) -> None:
        log.warning(
            "%s: %s; trying again in %.1f s (attempt %d of %d)",
            what,
            describe_error(state.outcome.exception()),
            state.next_action.sleep,
            state.attempt_number + 1,
            LOAD_ATTEMPTS,
        )

    return Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(LOAD_ATTEMPTS) | stop_after_delay(LOAD_RETRY_SECONDS),
        wait=wait_exponential_jitter(multiplier=0.5, max=10),
        before_sleep=log_retry,
        reraise=True,
    )


# Worker processes. Each holds its own connection and loads one batch at a time with
# _load_batch, exactly as a sequential run does: the advisory locks of etl/locks.py keep
# parallel loads of one dataset apart where they touch the same keys.
_worker_url = ""
_worker_conn: psycopg.Connection | None = None
_worker_keys: Keystore | None = None


def _worker_pool(url: str, workers: int) -> Executor:
    """Processes started afresh (spawn): a forked child would share the parent's connection."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(url, logging.getLogger().level, os.getpid()),
    )


def _start_worker(url: str, log_level: int, parent_pid: int) -> None:
    global _worker_url, _worker_conn
    _die_with(parent_pid)
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _worker_url, _worker_conn = url, connect(url)


def _die_with(parent_pid: int) -> None:
    """Have Linux kill this worker when the run's process dies, however it dies.

    A run killed outright (SIGKILL, the OOM killer) would otherwise leave its workers loading on,
    each holding a connection: a run started again meanwhile would race them, and killed runs
    would pile them up until the server refuses connections. Killed, a worker's transaction
    rolls back like the run's own. Elsewhere than Linux, workers outlive a killed run.
    """
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1  # <linux/prctl.h>
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _load_in_worker(
    name: str, settings: Settings, files: list[landing.LandingFile], force: bool
) -> list[FileLoad]:
    global _worker_conn, _worker_keys
    if _worker_keys is None:
        _worker_keys = Keystore.open(
            keystore_url(settings.keystore_url, _worker_url), settings.master, _worker_url
        )
    _worker_conn, loads = _load_batch(
        _worker_conn, _worker_url, dataset(name), settings, files, force, _worker_keys
    )
    return loads


def _load_in_pool(
    pool: Executor,
    name: str,
    settings: Settings,
    batches: list[list[landing.LandingFile]],
    force: bool,
) -> Iterator[list[FileLoad]]:
    """Each batch's loads, in the order of `batches`, as the workers finish them."""
    yield from pool.map(_load_in_worker, repeat(name), repeat(settings), batches, repeat(force))
