"""Processes that load batches at once (`warehouse run --workers N`).

Each holds its own connection and loads one batch at a time with
etl.loading.batch_load.load_batch, exactly as a sequential run does: the advisory locks of
etl/warehouse/locks.py keep parallel loads of one dataset apart where they touch the same keys.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from itertools import repeat

import psycopg

from etl.database import connect
from etl.datasets import dataset
from etl.encryption.keystore import Keystore, keystore_url
from etl.loading.batch_load import load_batch
from etl.loading.load_log import FileLoad
from etl.settings import Settings
from etl.source import landing

_worker_url = ""
_worker_conn: psycopg.Connection | None = None
_worker_keys: Keystore | None = None


def worker_pool(url: str, workers: int) -> Executor:
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
    _worker_conn, loads = load_batch(
        _worker_conn, _worker_url, dataset(name), settings, files, force, _worker_keys
    )
    return loads


def load_in_pool(
    pool: Executor,
    name: str,
    settings: Settings,
    batches: list[list[landing.LandingFile]],
    force: bool,
) -> Iterator[list[FileLoad]]:
    """Each batch's loads, in the order of `batches`, as the workers finish them."""
    yield from pool.map(_load_in_worker, repeat(name), repeat(settings), batches, repeat(force))
