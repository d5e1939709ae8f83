"""The quarantine of rejected lines: their reasons, where they came from, and their payload,
encrypted under a key per day of quarantine that is destroyed after the retention period.

A rejected line can hold anyone's personal data, even one too broken to parse. Each row keeps
the keyed hashes of the customer ids and e-mails the line names (etl/privacy/subjects.py), so
erasure deletes a customer's lines without decrypting any; WAREHOUSE_QUARANTINE_RETENTION_DAYS after
the day a line was quarantined, its day's key is destroyed and its payload dropped, its
reasons, file and line kept (the GDPR's storage limitation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from etl.encryption import crypto
from etl.encryption.keystore import KeyRing, Keystore
from etl.privacy.subjects import subjects_named
from etl.source.landing import LandingFile

TABLE = "ops.quarantine"
COLUMNS = (
    "dataset",
    "partition_date",
    "source_file",
    "line_number",
    "errors",
    "payload",
    "key_day",
    "subjects",
)
PAYLOAD = "ops.quarantine.payload"


def today() -> date:
    """The day a line quarantined now is filed under (UTC)."""
    return datetime.now(UTC).date()


def row(
    dataset: str,
    landing_file: LandingFile,
    line_number: int,
    errors: str,
    payload: str,
    raw: bytes,
    keys: KeyRing,
    pseudonym_key: bytes,
) -> tuple[Any, ...]:
    """A quarantine row in COLUMNS' order: the payload sealed under today's key."""
    return (
        dataset,
        landing_file.partition_date,
        landing_file.relative_path,
        line_number,
        errors,
        *seal(keys, landing_file.relative_path, line_number, payload, raw, pseudonym_key),
    )


def seal(
    keys: KeyRing,
    source_file: str,
    line_number: int,
    payload: str,
    raw: bytes,
    pseudonym_key: bytes,
) -> tuple[bytes, date, list[str]]:
    """(payload, key_day, subjects) of a line quarantined today."""
    day = today()
    cipher = keys.quarantine_day(day, create=True)
    return (
        crypto.encrypt(cipher, payload, _aad(source_file, line_number)),
        day,
        subjects_named(raw, pseudonym_key),
    )


def forget(conn: psycopg.Connection, files: Sequence[LandingFile]) -> None:
    """Remove what earlier versions of `files` quarantined."""
    conn.execute(
        "DELETE FROM ops.quarantine WHERE source_file = ANY(%s) AND partition_date = ANY(%s)",
        ([f.relative_path for f in files], sorted({f.partition_date for f in files})),
    )


def erase(conn: psycopg.Connection, subject_keys: Sequence[str]) -> int:
    """Delete the lines naming any of `subject_keys` (customer pseudonyms, e-mail keys)."""
    return conn.execute(
        "DELETE FROM ops.quarantine WHERE subjects && %s::text[]", (list(subject_keys),)
    ).rowcount


@dataclass(frozen=True)
class QuarantinedLine:
    """A rejected line; `payload` is None once its day's key is destroyed."""

    dataset: str
    source_file: str
    line_number: int
    errors: list[dict[str, str]]
    key_day: date | None
    payload: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "source_file": self.source_file,
            "line_number": self.line_number,
            "errors": self.errors,
            "quarantined_on": self.key_day.isoformat() if self.key_day else None,
            "payload": self.payload,
        }


def lines(
    conn: psycopg.Connection,
    dataset: str | None = None,
    source_file: str | None = None,
    limit: int = 50,
) -> list[tuple[str, int, list[dict[str, str]]]]:
    """(file, line, reasons) of the rejected lines, by file and line."""
    return conn.execute(
        """
        SELECT source_file, line_number, errors FROM ops.quarantine
        WHERE (%(dataset)s::text IS NULL OR dataset = %(dataset)s)
          AND (%(file)s::text IS NULL OR source_file = %(file)s)
        ORDER BY source_file, line_number LIMIT %(limit)s
        """,
        {"dataset": dataset, "file": source_file, "limit": limit},
    ).fetchall()


def show(
    conn: psycopg.Connection, keys: KeyRing, source_file: str, line_number: int
) -> QuarantinedLine | None:
    """One rejected line, its payload decrypted (None when its key is destroyed)."""
    found = _read(conn, "source_file = %s AND line_number = %s", (source_file, line_number), keys)
    return found[0] if found else None


def naming(
    conn: psycopg.Connection, keys: KeyRing, subject_keys: Sequence[str]
) -> list[QuarantinedLine]:
    """The rejected lines naming any of `subject_keys`, payloads decrypted."""
    return _read(conn, "subjects && %s::text[]", (list(subject_keys),), keys)


def expire(
    conn: psycopg.Connection, keystore: Keystore, retention_days: int, on: date | None = None
) -> list[date]:
    """Destroy the keys of the days more than `retention_days` before `on` (default: today)
    and drop those days' payloads; return the days whose keys were destroyed."""
    cutoff = (on or today()) - timedelta(days=retention_days)
    destroyed = keystore.destroy_quarantine_keys(cutoff)
    with conn.transaction():
        conn.execute(
            "UPDATE ops.quarantine SET payload = NULL WHERE key_day < %s AND payload IS NOT NULL",
            (cutoff,),
        )
    return destroyed


def _read(
    conn: psycopg.Connection, condition: str, params: tuple[Any, ...], keys: KeyRing
) -> list[QuarantinedLine]:
    rows = conn.execute(
        f"""
        SELECT dataset, source_file, line_number, errors, key_day, payload FROM ops.quarantine
        WHERE {condition} ORDER BY source_file, line_number
        """,
        params,
    ).fetchall()
    found = []
    for dataset, source_file, line_number, errors, key_day, sealed in rows:
        cipher = keys.quarantine_day(key_day) if sealed is not None else None
        payload = None
        if cipher is not None:
            try:
                payload = crypto.decrypt(cipher, bytes(sealed), _aad(source_file, line_number))
            except crypto.DecryptionError:
                payload = None  # its day's key was destroyed and made again since
        found.append(QuarantinedLine(dataset, source_file, line_number, errors, key_day, payload))
    return found


def _aad(source_file: str, line_number: int) -> bytes:
    return crypto.associated_data(PAYLOAD, f"{source_file}:{line_number}")
