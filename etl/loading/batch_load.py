"""Load one batch of files so that one bad file, or a database that drops connections, never
stops the rest: retries, a batch split in halves, a failed batch loaded file by file."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import psycopg

from etl.database import describe_error, is_connection_lost
from etl.encryption.keystore import Keystore
from etl.loading import file_load
from etl.loading.dataset import Dataset
from etl.loading.load_log import FileLoad
from etl.loading.retries import DatabaseUnavailable, reconnected, retrying
from etl.settings import Settings
from etl.source import landing

log = logging.getLogger(__name__)


class _Interrupted(Exception):
    """A batch of several files lost its connection mid-way (its transaction rolled back)."""


def load_batch(
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
    attempts = retrying(what)
    try:
        for attempt in attempts:
            with attempt:
                conn = reconnected(conn, url)
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
        conn, first = load_batch(conn, url, dataset_, settings, files[:half], force, keys)
        conn, second = load_batch(conn, url, dataset_, settings, files[half:], force, keys)
        return conn, first + second
    except Exception as error:  # one bad file must not stop the run
        if is_connection_lost(error):
            tried = attempts.statistics.get("attempt_number", 1)
            raise DatabaseUnavailable(
                f"database unreachable while loading {what}, {tried} attempts: "
                f"{describe_error(error)}; the next run resumes from there"
            ) from error
        if len(files) > 1:
            log.warning("%s: %s; loading its files one by one", what, describe_error(error))
            loads = []
            for landing_file in files:
                conn, loaded = load_batch(
                    conn, url, dataset_, settings, [landing_file], force, keys
                )
                loads += loaded
            return conn, loads
        log.exception("failed to load %s", what)
        try:
            conn = reconnected(conn, url)
            return conn, [file_load.record_failure(conn, files[0], error, started_at)]
        except psycopg.OperationalError as lost:
            raise DatabaseUnavailable(
                f"database unreachable while logging the failure of {what}: {describe_error(lost)}"
            ) from lost


def _describe_batch(files: list[landing.LandingFile]) -> str:
    if len(files) == 1:
        return files[0].relative_path
    return f"{files[0].relative_path}..{files[-1].relative_path} ({len(files)} files)"
