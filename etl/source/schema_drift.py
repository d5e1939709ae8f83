"""Schema drift: fields the source sends that their dataset's schema does not know, what a load
does with them (the dataset's schema contract), and the record it keeps of them
(ops.schema_drift).

The contracts are dlt's: `freeze` rejects a record with an unknown field (it is quarantined,
the schema's error its reason); `discard_value` loads it without the field, whose value is kept
nowhere: not in the warehouse, not in quarantine, not in the drift record, since it may be
personal data nobody agreed to hold. Under either, the drift is recorded: per landing file and
field, the first line and the number of records that carried it. A known field whose type
changed (a price sent as a number) is not drift: the record breaks its schema and is
quarantined under either contract. Which contract applies is configuration (etl/settings.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from etl.settings import DISCARD_VALUE
from etl.source.landing import LandingFile, Line, Window
from etl.source.validation import schema_validator, unknown_fields, validate

TABLE = "ops.schema_drift"
COLUMNS = (
    "dataset",
    "partition_date",
    "partition_hour",
    "source_file",
    "field",
    "first_line",
    "records",
    "contract",
)


@dataclass
class _Seen:
    first_line: int
    records: int = 0


class FileDrift:
    """One landing file's records validated under their dataset's contract, and the unknown
    fields they carried, by path."""

    def __init__(self, dataset: str, contract: str) -> None:
        self.dataset = dataset
        self.contract = contract
        self._discard = contract == DISCARD_VALUE
        self._validator = schema_validator(dataset)
        self._fields: dict[str, _Seen] = {}

    def validate(self, record: Any, line_number: int) -> dict[str, Any]:
        """The record checked against its schema (etl.source.validation.validate), under
        discard_value without its unknown fields (removed in place).

        A valid record costs one `is_valid`, as in `validate`: fields are looked for only in
        records that fail it (a drifted record then costs about 20 µs more).

        Raises:
            RecordRejected: the record breaks its schema: with an unknown field under freeze,
                or otherwise (under discard_value, the reasons are those of the record without
                its unknown fields, so that no reason quotes their values).
        """
        if self._validator.is_valid(record):
            return record
        unknown = unknown_fields(record, self.dataset, remove=self._discard)
        for path in dict.fromkeys(unknown):  # once per record, however many array items
            self._fields.setdefault(path, _Seen(line_number)).records += 1
        return validate(record, self.dataset)

    def payload(self, line: Line) -> str:
        """What quarantine keeps of a rejected line: the line as received (bytes that are not
        UTF-8 as \\xNN); under discard_value, a record that carried unknown fields re-encoded
        without them. A line that is not JSON, too long to parse or nested too deeply for the
        validator is kept as received: its fields cannot be told apart."""
        if self._discard and line.oversize is None:
            try:
                record = orjson.loads(line.raw)
                if unknown_fields(record, self.dataset, remove=True):
                    return orjson.dumps(record).decode()
            except (ValueError, orjson.JSONEncodeError):  # not JSON; the validator's recursion
                pass
        return line.raw.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")

    def rows(self, landing_file: LandingFile) -> Iterator[tuple[object, ...]]:
        """The file's rows of ops.schema_drift (COLUMNS): one per unknown field."""
        for path, seen in self._fields.items():
            yield (
                self.dataset,
                landing_file.partition_date,
                landing_file.partition_hour,
                landing_file.relative_path,
                path,
                seen.first_line,
                seen.records,
                self.contract,
            )


def forget(conn: psycopg.Connection, files: Sequence[LandingFile]) -> None:
    """Remove what earlier loads of `files` recorded (they are loaded again)."""
    conn.execute(
        f"DELETE FROM {TABLE} WHERE source_file = ANY(%s)", ([f.relative_path for f in files],)
    )


@dataclass(frozen=True)
class Drift:
    """An unknown field of a dataset, over the files that carried it under one contract: the
    first (file, line) and how many files and records."""

    dataset: str
    field: str
    contract: str
    first_file: str
    first_line: int
    files: int
    records: int

    def as_json(self) -> dict[str, object]:
        return {
            "field": self.field,
            "contract": self.contract,
            "first_file": self.first_file,
            "first_line": self.first_line,
            "files": self.files,
            "records": self.records,
        }

    def __str__(self) -> str:
        outcome = "loaded without it" if self.contract == DISCARD_VALUE else "quarantined"
        return (
            f"{self.field}: {self.records} records in {self.files} files, first "
            f"{self.first_file} line {self.first_line} ({self.contract}: {outcome})"
        )


def drift(
    conn: psycopg.Connection, dataset: str | None = None, window: Window | None = None
) -> list[Drift]:
    """The drift the loads in effect recorded: of one dataset or all, of the files of a window's
    landing folders or all, in the order the fields first came."""
    first = window.first if window else None
    last = window.last if window else None
    rows = conn.execute(
        f"""
        SELECT dataset, field, contract,
               (array_agg(source_file ORDER BY source_file, first_line))[1],
               (array_agg(first_line ORDER BY source_file, first_line))[1],
               count(*), sum(records)
        FROM {TABLE}
        WHERE (%(dataset)s::text IS NULL OR dataset = %(dataset)s)
          AND (%(first_day)s::date IS NULL
               OR (partition_date, partition_hour) >= (%(first_day)s, %(first_hour)s::smallint))
          AND (%(last_day)s::date IS NULL
               OR (partition_date, partition_hour) <= (%(last_day)s, %(last_hour)s::smallint))
        GROUP BY dataset, field, contract
        ORDER BY 1, 4, 5, 2
        """,
        {
            "dataset": dataset,
            "first_day": first[0] if first else None,
            "first_hour": first[1] if first else None,
            "last_day": last[0] if last else None,
            "last_hour": last[1] if last else None,
        },
    )
    return [Drift(*row) for row in rows]
