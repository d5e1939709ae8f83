"""Rewrite landing files without erased customers (`warehouse erase --scrub-landing`).

The landing zone is the source's copy; scrubbing it is a deliberate act of the data team, not
part of a load. A customer's records are removed; their transactions are kept, as accounting
facts, with the delivery street address and postcode replaced by a marker; their erasure
requests are removed. Every other line stays byte for byte as it was. Each file is replaced
atomically, and the load log records its new checksum so the next run does not reload it.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg

from etl import datasets
from etl.loading import load_log
from etl.loading.load_log import FileLoad, LoadStatus
from etl.privacy.erasure import ErasedCustomers, erased_customers
from etl.source import landing
from etl.source.landing import LandingFile
from etl.warehouse import monthly_partitions

ERASED_MARKER = "[erased]"
# The datasets whose records name a customer.
_SCRUBBED_DATASETS = tuple(d.name for d in datasets.DATASETS if d.subject_field)


@dataclass(frozen=True)
class ScrubbedFile:
    relative_path: str
    lines_removed: int
    lines_redacted: int


def scrub_landing(conn: psycopg.Connection, root: Path, key: bytes) -> list[ScrubbedFile]:
    """Rewrite every landing file under `root` that holds an erased customer's personal data."""
    erased = erased_customers(conn)
    if not erased:
        return []
    scrubbed = []
    for landing_file in landing.discover(root, _SCRUBBED_DATASETS):
        result = _scrub_file(landing_file, erased, key)
        if result is None:
            continue
        # a file never loaded may be of a month the load log has no partition for yet
        monthly_partitions.ensure(conn, [monthly_partitions.month_of(landing_file.partition_date)])
        with conn.transaction():
            # The warehouse holds what the earlier load stored (less what the erasure removed):
            # its counts still describe how those rows came in.
            before = load_log.in_effect(conn, landing_file)
            load_log.record_many(
                conn,
                [
                    replace(
                        before or FileLoad(landing_file, LoadStatus.SCRUBBED, ""),
                        status=LoadStatus.SCRUBBED,
                        checksum=landing.checksum(landing_file.path),
                    )
                ],
                datetime.now(UTC),
            )
        scrubbed.append(result)
    return scrubbed


def _scrub_file(
    landing_file: LandingFile, erased: ErasedCustomers, key: bytes
) -> ScrubbedFile | None:
    opener = gzip.open if landing_file.is_gzip else open
    try:
        with opener(landing_file.path, "rb") as handle:
            lines = handle.readlines()
    except (OSError, EOFError):
        return None  # unreadable files load as rejected and keep nothing in the warehouse
    kept, removed, redacted = [], 0, 0
    field = datasets.dataset(landing_file.dataset).subject_field
    for line in lines:
        record = _parse(line)
        subject = record.get(field) if isinstance(record, dict) else None
        if not (isinstance(subject, str) and erased.covers(subject, key)):
            kept.append(line)
        elif landing_file.dataset == "transactions" and isinstance(
            record.get("delivery_address"), dict
        ):
            record["delivery_address"].update(address=ERASED_MARKER, postcode=ERASED_MARKER)
            ending = line[len(line.rstrip(b"\r\n")) :]
            kept.append(orjson.dumps(record) + ending)
            redacted += 1
        else:
            removed += 1
    if not removed and not redacted:
        return None
    _replace_atomically(landing_file, b"".join(kept))
    return ScrubbedFile(landing_file.relative_path, removed, redacted)


def _parse(line: bytes) -> object:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return None


def _replace_atomically(landing_file: LandingFile, content: bytes) -> None:
    path = landing_file.path
    data = gzip.compress(content, mtime=0) if landing_file.is_gzip else content
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
