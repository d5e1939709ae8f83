"""Run datasets over the landing zone: batches of files, in one process or several."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Executor

import psycopg
from tqdm import tqdm

from etl.database import database_url, describe_error, is_connection_lost, prepare
from etl.datasets import dataset
from etl.encryption import upgrade
from etl.encryption.keystore import Keystore, keystore_url
from etl.loading import file_load, quarantine
from etl.loading.batch_load import load_batch
from etl.loading.load_log import FileLoad, LoadStatus
from etl.loading.retries import DatabaseUnavailable, reconnected, retrying
from etl.loading.run_summary import RunSummary
from etl.loading.worker_pool import load_in_pool, worker_pool
from etl.privacy import erasure
from etl.settings import Settings
from etl.source import landing
from etl.source.landing import DATASETS
from etl.warehouse import marts, monthly_partitions

log = logging.getLogger(__name__)


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
    files load in batches of consecutive files (etl.loading.file_load.batches), each in one
    transaction. A batch that fails is loaded again file by file, so that only the file at
    fault fails: it is logged and the run goes on. When the database stays out of reach beyond
    the retry bound, the run stops and says so in `aborted`. `force` reloads files even when
    their content has not changed since they were loaded (a replay).
    Before loading and after each dataset, the data keys of erased customers whose destruction
    is pending (a crash interrupted it) are destroyed (etl/privacy/erasure.py); at the end, the
    quarantine's day keys past the retention period too. The run ends by refreshing the marts
    for the days its loads changed (etl/warehouse/marts.py).
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
        for attempt in retrying("migrating the warehouse"):
            with attempt:
                conn = reconnected(conn, url)
                prepare(conn, settings)
                keys = keys or Keystore.open(
                    keystore_url(settings.keystore_url, url), settings.master, url
                )
                upgrade.encrypt_plaintext(conn, keys, settings.pseudonym_key)
                erasure.destroy_erased_keys(conn, keys)
                # Every month the run's files are dated in, before any load starts: loads then
                # seldom create a month while others merge (etl/warehouse/monthly_partitions.py).
                monthly_partitions.ensure(
                    conn, {monthly_partitions.month_of(f.partition_date) for f in scanned.drops}
                )
        for name in selected:
            files = [f for f in scanned.drops if f.dataset == name]
            # disable=None: a bar on a terminal, plain log lines otherwise
            disable = None if show_progress is None else not show_progress
            progress = tqdm(total=len(files), desc=name, unit="file", disable=disable)
            batches = list(file_load.batches(files))
            if workers > 1 and len(batches) > 1 and dataset(name).parallel:
                pool = pool or worker_pool(url, workers)
                for loads in load_in_pool(pool, name, settings, batches, force):
                    _add(summary, progress, loads)
            else:
                for batch in batches:
                    conn, loads = load_batch(conn, url, dataset(name), settings, batch, force, keys)
                    _add(summary, progress, loads)
            progress.close()
            conn = _retried(
                "destroying the data keys of erased customers",
                conn,
                url,
                lambda conn: erasure.destroy_erased_keys(conn, keys),
            )
        conn = _retried(
            "destroying the quarantine's day keys past the retention",
            conn,
            url,
            lambda conn: quarantine.expire(conn, keys, settings.quarantine_retention_days),
        )
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


def _retried(
    what: str,
    conn: psycopg.Connection | None,
    url: str,
    step: Callable[[psycopg.Connection], object],
) -> psycopg.Connection:
    """Run `step` on a connection, again on a new one after a transient database error.

    Raises:
        DatabaseUnavailable: the database stayed out of reach; the loads are kept, and the next
            run does `what` first.
    """
    try:
        for attempt in retrying(what):
            with attempt:
                conn = reconnected(conn, url)
                step(conn)
    except psycopg.OperationalError as error:
        if not is_connection_lost(error):
            raise
        raise DatabaseUnavailable(
            f"database unreachable while {what}: {describe_error(error)}; the loads are kept "
            "and the next run does it first"
        ) from error
    return conn


def _refresh_marts(conn: psycopg.Connection, url: str) -> psycopg.Connection:
    """Refresh the marts for the days the run's loads changed (nothing when none did).

    Raises:
        DatabaseUnavailable: the database stayed out of reach; the loads are kept, and the next
            run or `warehouse marts refresh` refreshes their days.
    """
    try:
        for attempt in retrying("refreshing the marts"):
            with attempt:
                conn = reconnected(conn, url)
                log.info("marts refreshed for %d days", marts.refresh(conn))
    except psycopg.OperationalError as error:
        if not is_connection_lost(error):
            raise
        raise DatabaseUnavailable(
            f"database unreachable while refreshing the marts: {describe_error(error)}; the "
            "loads are kept and the next run refreshes their days"
        ) from error
    return conn
