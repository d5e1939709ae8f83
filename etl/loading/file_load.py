"""Load landing files of one dataset in batches: a batch in one transaction, all of it or none of
it, each of its files accounted for on its own.

The feed sends many small files (one per dataset and hour, a dozen records each). Loading them
one transaction each spent most of the time on fixed costs: about twenty statements, temporary
tables created and dropped, and a commit (a WAL flush) per file. A batch of consecutive files
shares one transaction, one staging pass and one set-based merge, while every file keeps its
own load-log row, its own counts and its own place in every rule ("earliest (file, line)
wins" compares files of the same batch as it compares files of different batches).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
import psycopg

from etl.encryption import keystore
from etl.encryption.keystore import KeyRing, Keystore
from etl.loading import load_log, quarantine
from etl.loading.dataset import CustomerErased, Dataset, LoadContext, MergeResult, TempTable
from etl.loading.load_log import FileLoad, LoadStatus
from etl.loading.staging import CopyBuffer, create_temp_tables
from etl.privacy import erasure
from etl.settings import DEFAULT_SCHEMA_CONTRACT, Settings
from etl.source import landing, schema_drift
from etl.source.landing import LandingFile, LandingFileError
from etl.source.validation import RecordError, RecordRejected, decode
from etl.warehouse import locks, monthly_partitions

log = logging.getLogger(__name__)

# The batch's files, by the number its staged rows carry; merges read a file's path and date
# here.
FILES_TABLE = TempTable(
    "stg_files",
    ("file_number", "source_file", "partition_date", "partition_hour"),
    ("integer PRIMARY KEY", "text NOT NULL", "date NOT NULL", "smallint NOT NULL"),
)

# A batch ends before it would hold more than this many bytes of landing files (as stored:
# gzipped, about 1.5 MiB of transactions is 10,000 of them) or this many files: short enough
# that a batch's locks and its transaction stay short and a failed batch costs little to load
# again file by file. A larger file is a batch of its own. Memory does not depend on these:
# rows are sent in rounds of etl.loading.staging.BATCH_ROWS.
BATCH_BYTES = 4 << 20
BATCH_FILES = 250

# A batch whose rows fall in months without partitions is loaded again once they exist; a
# month detached meanwhile could send it round once more.
_PARTITION_ATTEMPTS = 3


def batches(
    files: Sequence[LandingFile], max_bytes: int = BATCH_BYTES, max_files: int = BATCH_FILES
) -> Iterator[list[LandingFile]]:
    """Consecutive runs of `files`, each within `max_bytes` (but at least one file) and
    `max_files`."""
    batch: list[LandingFile] = []
    size = 0
    for landing_file in files:
        try:
            file_size = os.stat(landing_file.path).st_size
        except OSError:
            file_size = 0  # gone or unreadable: its load says why
        if batch and (size + file_size > max_bytes or len(batch) >= max_files):
            yield batch
            batch, size = [], 0
        batch.append(landing_file)
        size += file_size
    if batch:
        yield batch


def load_files(
    conn: psycopg.Connection,
    dataset: Dataset,
    files: Sequence[LandingFile],
    pseudonym_key: bytes,
    force: bool = False,
    schema_contract: str = DEFAULT_SCHEMA_CONTRACT,
    keys: Keystore | None = None,
) -> list[FileLoad]:
    """Validate, clean and merge a batch of the dataset's landing files, and log each file's
    load, in one transaction; return each file's load, in the order of `files`.

    Personal data is encrypted under the customers' data keys from `keys` (default: the
    keystore beside this warehouse, with the environment's master key), fetched or made once
    per batch.

    `schema_contract` decides what becomes of a field the dataset's schema does not know, and
    the drift is recorded (etl/source/schema_drift.py).

    A file whose checksum matches its last load is left alone, unless `force` replays it. A
    file with changed content first has what its earlier version contributed removed. A file
    that cannot be read whole is rejected (every line read from it goes to quarantine, nothing
    of it is loaded) while the batch's other files load.
    The monthly partitions the batch writes to are created first, outside its transaction (the
    files' months; a transaction of another month sends the batch round again).
    Any other error rolls the whole batch back and propagates: the caller may load its files
    one by one to find the one at fault.
    """
    started_at = datetime.now(UTC)
    checksums = [landing.checksum(landing_file.path) for landing_file in files]
    months = {monthly_partitions.month_of(landing_file.partition_date) for landing_file in files}
    create_temp_tables(conn, (FILES_TABLE, *dataset.staging, *dataset.working))
    own_keys = keys is None
    if keys is None:
        keys = keystore.beside(conn, Settings.from_env().master)
    try:
        for attempt in range(1, _PARTITION_ATTEMPTS + 1):
            monthly_partitions.ensure(conn, months)
            try:
                return _load(
                    conn, dataset, files, checksums, pseudonym_key, force, schema_contract,
                    started_at, months, keys,
                )  # fmt: skip
            except monthly_partitions.MonthsMissing as missing:
                if attempt == _PARTITION_ATTEMPTS:
                    raise
                months |= missing.months
    finally:
        if own_keys:
            keys.close()
    raise AssertionError("unreachable")


def _load(
    conn: psycopg.Connection,
    dataset: Dataset,
    files: Sequence[LandingFile],
    checksums: list[str],
    pseudonym_key: bytes,
    force: bool,
    schema_contract: str,
    started_at: datetime,
    months: set[date],
    keys: Keystore,
) -> list[FileLoad]:
    """load_files' transaction, with the partitions of `months` in place.

    Raises:
        MonthsMissing: staged rows fall in months without partitions (rolled back).
    """
    with conn.transaction():
        # Two runs given the same files wait for each other here; the second finds them loaded.
        locks.lock_landing_files(conn, (f.relative_path for f in files))
        if dataset.exclusive:
            locks.lock_erasure_exclusive(conn)
        else:
            if dataset.erases_on_arrival:
                locks.lock_merges(conn, dataset.name)  # before the erasure lock: see Dataset
            locks.lock_erasure_shared(conn)
        previous = load_log.loaded_checksums(conn, files)
        loads: dict[int, FileLoad] = {}
        pending = []
        for index, (landing_file, checksum) in enumerate(zip(files, checksums, strict=True)):
            if previous.get(landing_file.relative_path) == checksum and not force:
                loads[index] = FileLoad(landing_file, LoadStatus.UNCHANGED, checksum)
            else:
                pending.append(index)
        if not pending:
            return [loads[index] for index in range(len(files))]
        batch = tuple(files[index] for index in pending)
        changed = [f for f in batch if f.relative_path in previous]
        if changed:
            for landing_file in changed:
                log.info("%s changed since it was loaded; replacing it", landing_file.relative_path)
            dataset.forget(conn, changed)
            quarantine.forget(conn, changed)
            schema_drift.forget(conn, changed)
        context = LoadContext(pseudonym_key, erasure.erased_customers(conn), batch, KeyRing(keys))
        staged = _stage(conn, dataset, context, schema_contract)
        _check_months(conn, dataset, months)
        if not dataset.merges_concurrently:
            locks.lock_merges(conn, dataset.name)
        merged = dataset.merge(conn, context)
        for number, index in enumerate(pending):
            loads[index] = _file_load(
                files[index], checksums[index], staged[number], merged.get(number, MergeResult())
            )
        load_log.record_many(conn, [loads[index] for index in pending], started_at)
    return [loads[index] for index in range(len(files))]


def _file_load(
    landing_file: LandingFile, checksum: str, staged: _Staged, merged: MergeResult
) -> FileLoad:
    if staged.rejected is not None:
        return FileLoad(
            landing_file,
            LoadStatus.REJECTED,
            checksum,
            read=staged.read,
            quarantined=staged.quarantined,
            erased=staged.erased,
            error=staged.rejected,
        )
    return FileLoad(
        landing_file,
        LoadStatus.LOADED,
        checksum,
        read=staged.read,
        loaded=merged.loaded,
        duplicate=merged.duplicate,
        quarantined=staged.quarantined,
        erased=staged.erased + merged.erased,
        scrubbed=merged.scrubbed,
        orphans=merged.orphans,
    )


def _check_months(conn: psycopg.Connection, dataset: Dataset, months: set[date]) -> None:
    """Raise MonthsMissing when staged rows fall in a month with no partition yet (rare: a
    transaction of the month before its landing folder's). Creating it here, inside the load's
    transaction and after its locks, could deadlock with another load."""
    if dataset.staged_months is None:
        return
    needed = {row[0] for row in conn.execute(dataset.staged_months)}
    if needed <= months:
        return
    absent = monthly_partitions.missing(conn, needed)
    if absent:
        raise monthly_partitions.MonthsMissing(absent)


def record_failure(
    conn: psycopg.Connection, landing_file: LandingFile, error: BaseException, started_at: datetime
) -> FileLoad:
    """Log a load that an unexpected error interrupted (after its transaction rolled back)."""
    try:
        checksum = landing.checksum(landing_file.path)
    except OSError:
        checksum = "unreadable"
    load = FileLoad(landing_file, LoadStatus.FAILED, checksum, error=_describe(error))
    monthly_partitions.ensure(conn, [monthly_partitions.month_of(landing_file.partition_date)])
    with conn.transaction():
        load_log.record_many(conn, [load], started_at)
    return load


@dataclass
class _Staged:
    """What staging did with one file's lines; `rejected` says why none of it loads."""

    read: int = 0
    quarantined: int = 0
    erased: int = 0
    rejected: str | None = None


def _stage(
    conn: psycopg.Connection, dataset: Dataset, context: LoadContext, schema_contract: str
) -> list[_Staged]:
    """Copy every valid record of the batch's files into staging and every invalid one into
    quarantine, and record each file's schema drift; return what happened to each file's
    lines, by file number.

    Records of erased customers are counted and dropped, even when invalid: quarantine would
    otherwise keep their personal data. A file that cannot be read whole has what it staged
    taken back, and is quarantined line by line as rejected (no drift is recorded of it).
    """
    tables: dict[str, Sequence[str]] = {table.name: table.columns for table in dataset.staging}
    tables[FILES_TABLE.name] = FILES_TABLE.columns
    tables[quarantine.TABLE] = quarantine.COLUMNS
    tables[schema_drift.TABLE] = schema_drift.COLUMNS
    prepare = {}
    if dataset.sealing is not None:
        sealing = dataset.sealing
        prepare[sealing.staging.name] = lambda rows: sealing.seal(rows, context.keys)
    buffer = CopyBuffer(conn, tables, prepare=prepare)
    staged = []
    for number, landing_file in enumerate(context.files):
        buffer.add(
            FILES_TABLE.name,
            (number, landing_file.relative_path, landing_file.partition_date,
             landing_file.partition_hour),
        )  # fmt: skip
        mark = buffer.mark()
        drift = schema_drift.FileDrift(dataset.name, schema_contract)
        try:
            counts = _stage_file(buffer, dataset, context, number, landing_file, drift)
        except LandingFileError as error:
            if not buffer.undo(mark):
                _delete_staged(conn, dataset, number, landing_file)
            staged.append(_reject(buffer, dataset, context, landing_file, str(error), drift))
            continue
        staged.append(counts)
        for row in drift.rows(landing_file):
            buffer.add(schema_drift.TABLE, row)
    buffer.flush()
    return staged


def _stage_file(
    buffer: CopyBuffer,
    dataset: Dataset,
    context: LoadContext,
    number: int,
    landing_file: LandingFile,
    drift: schema_drift.FileDrift,
) -> _Staged:
    counts = _Staged()
    for line in landing.read_lines(landing_file):
        counts.read += 1
        record = None
        try:
            if line.oversize is not None:
                raise RecordRejected([_oversize_error(line.oversize, len(line.raw))])
            record = decode(line.raw)
            rows = list(
                dataset.to_staging(drift.validate(record, line.number), line.number, context)
            )
        except CustomerErased:
            counts.erased += 1
            continue
        except RecordRejected as rejected:
            if context.erased and _names_erased_customer(context, dataset, line, record):
                counts.erased += 1
            else:
                counts.quarantined += 1
                row = _quarantine_row(
                    dataset, context, landing_file, line, rejected, drift.payload(line)
                )
                buffer.add(quarantine.TABLE, row)
            continue
        for table, row in rows:
            buffer.add(table, (number, *row))
    return counts


def _delete_staged(
    conn: psycopg.Connection, dataset: Dataset, number: int, landing_file: LandingFile
) -> None:
    """Take back what a file staged and quarantined before it turned out unreadable."""
    for table in dataset.staging:
        conn.execute(f"DELETE FROM {table.name} WHERE file_number = %s", (number,))
    quarantine.forget(conn, [landing_file])


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
    if record is not None and context.erased.covers_record(record, dataset.subject_field, key):
        return True
    return context.erased.covers_raw(line.raw, key)


def _reject(
    buffer: CopyBuffer,
    dataset: Dataset,
    context: LoadContext,
    landing_file: LandingFile,
    reason: str,
    drift: schema_drift.FileDrift,
) -> _Staged:
    """Quarantine every line that could be read from a file that cannot be read whole."""
    log.warning("rejecting %s", reason)
    rejected = RecordRejected([RecordError("$", f"file rejected, none of it is loaded: {reason}")])
    counts = _Staged(rejected=reason)
    try:
        for line in landing.read_lines(landing_file):
            counts.read += 1
            if context.erased and context.erased.covers_raw(line.raw, context.pseudonym_key):
                counts.erased += 1
                continue
            counts.quarantined += 1
            row = _quarantine_row(
                dataset, context, landing_file, line, rejected, drift.payload(line)
            )
            buffer.add(quarantine.TABLE, row)
    except LandingFileError:
        pass  # the same error again, at the same place: everything readable is buffered
    return counts


def _quarantine_row(
    dataset: Dataset,
    context: LoadContext,
    landing_file: LandingFile,
    line: landing.Line,
    rejected: RecordRejected,
    payload: str,
) -> tuple[object, ...]:
    return quarantine.row(
        dataset.name,
        landing_file,
        line.number,
        orjson.dumps([error.as_json() for error in rejected.errors]).decode(),
        payload,
        line.raw,
        context.keys,
        context.pseudonym_key,
    )


def _describe(error: BaseException) -> str:
    """The error's type and main message. A database error's detail is left out: it can quote
    the row that failed, personal data included."""
    if isinstance(error, psycopg.Error) and error.diag.message_primary:
        return f"{type(error).__name__}: {error.diag.message_primary}"
    return f"{type(error).__name__}: {error}"
