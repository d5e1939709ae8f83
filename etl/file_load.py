"""Load one landing file of any dataset: all of it in one transaction, or none of it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import orjson
import psycopg

from etl import erasure, landing, load_log, table_partitions
from etl.dataset import CustomerErased, Dataset, LoadContext
from etl.landing import LandingFile, LandingFileError
from etl.load_log import FileLoad
from etl.staging import CopyBuffer
from etl.validation import RecordError, RecordRejected, decode, validate

log = logging.getLogger(__name__)

QUARANTINE_TABLE = "ops.quarantine"
QUARANTINE_COLUMNS = (
    "dataset",
    "partition_date",
    "source_file",
    "line_number",
    "errors",
    "payload",
)

# Advisory lock namespaces. A file's loads take turns; loads of different files run in parallel
# up to the merge, where one dataset's merges take turns, so that two files sharing a key (a
# customer updated in two hours) never race or deadlock; a dataset whose merge resolves such
# races itself (Dataset.merges_concurrently) merges in parallel too.
_FILE_LOCK = 1
_MERGE_LOCK = 2

# A file whose rows fall in months without partitions is loaded again once they exist; a month
# detached meanwhile could send it round once more.
_PARTITION_ATTEMPTS = 3


def load_file(
    conn: psycopg.Connection, dataset: Dataset, context: LoadContext, force: bool = False
) -> FileLoad:
    """Validate, clean and merge one landing file, and log the load, in one transaction.

    A file whose checksum matches its last load is left alone, unless `force` replays it.
    A file with changed content first has what its earlier version contributed removed. A file
    that cannot be read whole is rejected: every line read from it goes to quarantine and
    nothing of it is loaded.
    The monthly partitions the load writes to are created first, outside its transaction (the
    landing file's month; a transaction of another month sends the file round again).
    Any other error rolls the whole file back and propagates.
    """
    started_at = datetime.now(UTC)
    checksum = landing.checksum(context.landing_file.path)
    months = {table_partitions.month_of(context.landing_file.partition_date)}
    for attempt in range(1, _PARTITION_ATTEMPTS + 1):
        table_partitions.ensure(conn, months)
        try:
            return _load(conn, dataset, context, force, checksum, started_at, months)
        except table_partitions.MonthsMissing as missing:
            if attempt == _PARTITION_ATTEMPTS:
                raise
            months |= missing.months
    raise AssertionError("unreachable")


def _load(
    conn: psycopg.Connection,
    dataset: Dataset,
    context: LoadContext,
    force: bool,
    checksum: str,
    started_at: datetime,
    months: set[date],
) -> FileLoad:
    """load_file's transaction, with the partitions of `months` in place.

    Raises:
        MonthsMissing: staged rows fall in months without partitions (rolled back).
    """
    landing_file = context.landing_file
    with conn.transaction():
        # Two runs given the same file wait for each other here; the second then sees it loaded.
        conn.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
            (_FILE_LOCK, landing_file.relative_path),
        )
        if dataset.exclusive:
            erasure.lock_exclusive(conn)
        else:
            if dataset.erases_on_arrival:
                _lock_merge(conn, dataset)  # taken before the erasure lock: see Dataset
            erasure.lock_shared(conn)
        previous = load_log.loaded_checksum(conn, landing_file)
        if previous == checksum and not force:
            return FileLoad(landing_file, "unchanged", checksum)
        if previous is not None:
            log.info("%s changed since it was loaded; replacing it", landing_file.relative_path)
            dataset.forget(conn, landing_file)
            conn.execute(
                "DELETE FROM ops.quarantine WHERE source_file = %s AND partition_date = %s",
                (landing_file.relative_path, landing_file.partition_date),
            )
        context = replace(context, erased=erasure.erased_customers(conn))
        for table in dataset.staging:
            conn.execute(table.create_sql)
        try:
            with conn.transaction():
                staged = _stage(conn, dataset, context)
        except LandingFileError as error:
            load = _reject(conn, dataset, context, checksum, str(error))
        else:
            _check_months(conn, dataset, months)
            if not dataset.merges_concurrently:
                _lock_merge(conn, dataset)
            merged = dataset.merge(conn, context)
            load = FileLoad(
                landing_file,
                "loaded",
                checksum,
                read=staged.read,
                loaded=merged.loaded,
                duplicate=merged.duplicate,
                quarantined=staged.quarantined,
                erased=staged.erased + merged.erased,
                scrubbed=merged.scrubbed,
                orphans=merged.orphans,
            )
        load_log.record(conn, load, started_at)
    return load


def _check_months(conn: psycopg.Connection, dataset: Dataset, months: set[date]) -> None:
    """Raise MonthsMissing when staged rows fall in a month with no partition yet (rare: a
    transaction of the month before its landing folder's). Creating it here, inside the load's
    transaction and after its locks, could deadlock with another load."""
    if dataset.staged_months is None:
        return
    needed = {row[0] for row in conn.execute(dataset.staged_months)}
    if needed <= months:
        return
    absent = table_partitions.missing(conn, needed)
    if absent:
        raise table_partitions.MonthsMissing(absent)


def record_failure(
    conn: psycopg.Connection, landing_file: LandingFile, error: BaseException, started_at: datetime
) -> FileLoad:
    """Log a load that an unexpected error interrupted (after its transaction rolled back)."""
    try:
        checksum = landing.checksum(landing_file.path)
    except OSError:
        checksum = "unreadable"
    load = FileLoad(landing_file, "failed", checksum, error=_describe(error))
    with conn.transaction():
        load_log.record(conn, load, started_at)
    return load


def _lock_merge(conn: psycopg.Connection, dataset: Dataset) -> None:
    """One dataset's merges take turns (a second request in the same transaction is a no-op)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_MERGE_LOCK, dataset.name))


@dataclass
class _Staged:
    read: int = 0
    quarantined: int = 0
    erased: int = 0


def _stage(conn: psycopg.Connection, dataset: Dataset, context: LoadContext) -> _Staged:
    """Copy every valid record into staging and every invalid one into quarantine.

    Records of erased customers are counted and dropped, even when invalid: quarantine would
    otherwise keep their personal data.
    """
    tables = {table.name: table.columns for table in dataset.staging}
    tables[QUARANTINE_TABLE] = QUARANTINE_COLUMNS
    buffer = CopyBuffer(conn, tables)
    counts = _Staged()
    for line in landing.read_lines(context.landing_file):
        counts.read += 1
        record = None
        try:
            if line.oversize is not None:
                raise RecordRejected([_oversize_error(line.oversize, len(line.raw))])
            record = decode(line.raw)
            rows = list(dataset.to_staging(validate(record, dataset.name), line.number, context))
        except CustomerErased:
            counts.erased += 1
            continue
        except RecordRejected as rejected:
            if context.erased and _names_erased_customer(context, dataset, line, record):
                counts.erased += 1
            else:
                counts.quarantined += 1
                buffer.add(QUARANTINE_TABLE, _quarantine_row(dataset, context, line, rejected))
            continue
        for table, row in rows:
            buffer.add(table, row)
    buffer.flush()
    return counts


def _oversize_error(length: int, kept: int) -> RecordError:
    return RecordError(
        "$",
        f"line of {length} bytes is longer than the maximum record size of "
        f"{landing.MAX_RECORD_BYTES} bytes; not parsed, payload truncated to its first "
        f"{kept} bytes",
    )


def _names_erased_customer(
    context: LoadContext, dataset: Dataset, line: landing.Line, record: Any
) -> bool:
    key = context.pseudonym_key
    if record is not None and context.erased.covers_record(record, dataset.name, key):
        return True
    return context.erased.covers_raw(line.raw, key)


def _reject(
    conn: psycopg.Connection,
    dataset: Dataset,
    context: LoadContext,
    checksum: str,
    reason: str,
) -> FileLoad:
    """Quarantine every line that could be read from a file that cannot be read whole."""
    log.warning("rejecting %s", reason)
    buffer = CopyBuffer(conn, {QUARANTINE_TABLE: QUARANTINE_COLUMNS})
    rejected = RecordRejected([RecordError("$", f"file rejected, none of it is loaded: {reason}")])
    read = erased = 0
    try:
        for line in landing.read_lines(context.landing_file):
            read += 1
            if context.erased and context.erased.covers_raw(line.raw, context.pseudonym_key):
                erased += 1
                continue
            buffer.add(QUARANTINE_TABLE, _quarantine_row(dataset, context, line, rejected))
    except LandingFileError:
        pass  # the same error again, at the same place: everything readable is buffered
    buffer.flush()
    return FileLoad(
        context.landing_file,
        "rejected",
        checksum,
        read=read,
        quarantined=read - erased,
        erased=erased,
        error=reason,
    )


def _quarantine_row(
    dataset: Dataset, context: LoadContext, line: landing.Line, rejected: RecordRejected
) -> tuple[object, ...]:
    payload = line.raw.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")
    return (
        dataset.name,
        context.landing_file.partition_date,
        context.landing_file.relative_path,
        line.number,
        orjson.dumps([error.as_json() for error in rejected.errors]).decode(),
        payload,
    )


def _describe(error: BaseException) -> str:
    """The error's type and main message. A database error's detail is left out: it can quote
    the row that failed, personal data included."""
    if isinstance(error, psycopg.Error) and error.diag.message_primary:
        return f"{type(error).__name__}: {error.diag.message_primary}"
    return f"{type(error).__name__}: {error}"
