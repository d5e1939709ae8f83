"""A corpus of hostile landing files: what real feeds and broken uploads deliver.

Each record case is one bad line that must be quarantined with a specific reason (JSON path and
a fragment of the message); each file case is a whole file with the status and load-log error
(or record counts) it must get.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field

from tests import landing_zone as lz

FIFTY_MIB = 50 << 20


@dataclass(frozen=True)
class RecordCase:
    """One hostile line, written between two good records of its dataset."""

    id: str
    dataset: str
    line: bytes
    path: str
    message: str


def _json(record: dict) -> bytes:
    return json.dumps(record).encode()


def _with(record: dict, raw_value: bytes, field_name: str) -> bytes:
    """The record as JSON with one field's value replaced by raw (possibly invalid) JSON text."""
    text = _json({**record, field_name: "__RAW__"})
    return text.replace(b'"__RAW__"', raw_value)


def _transaction_with_item(**item_overrides: object) -> dict:
    record = lz.transaction("00000000-0000-4000-8000-0000000000f1")
    record["purchases"]["products"][0].update(item_overrides)
    return record


_DUPLICATE_ID = b'{"id": "000301", ' + _json(lz.customer("000302"))[1:]
_NESTED_DUPLICATE = _json(lz.transaction("00000000-0000-4000-8000-0000000000f2")).replace(
    b'"price": "21.00"', b'"price": "21.00", "price": "1.00"'
)

RECORD_CASES = [
    RecordCase(
        "invalid-utf8",
        "customers",
        _json(lz.customer("000101")).replace(b"Lyons", b"Ly\xffons"),
        "$",
        "malformed JSON: str is not valid UTF-8",
    ),
    RecordCase(
        "lone-surrogate",
        "customers",
        _with(lz.customer("000102"), b'"\\ud800"', "last_name"),
        "$",
        "malformed JSON: no low surrogate",
    ),
    RecordCase(
        "deeply-nested",
        "products",
        _with(lz.product(3), b"[" * 100_000 + b"]" * 100_000, "name"),
        "$",
        "malformed JSON: depth limit exceeded",
    ),
    RecordCase(
        "nested-300-deep",
        "products",
        _with(lz.product(4), b"[" * 300 + b"]" * 300, "name"),
        "$",
        "JSON nested more than 255 levels deep",
    ),
    RecordCase(
        "nan",
        "products",
        _with(lz.product(5), b"NaN", "popularity"),
        "$",
        "malformed JSON: unexpected character",
    ),
    RecordCase(
        "infinity",
        "products",
        _with(lz.product(6), b"Infinity", "popularity"),
        "$",
        "malformed JSON: unexpected character",
    ),
    RecordCase(
        "number-overflowing-to-infinity",
        "products",
        _with(lz.product(7), b"1e400", "popularity"),
        "$",
        "malformed JSON: number is infinity",
    ),
    RecordCase(
        "sku-1e30",
        "products",
        _with(lz.product(), b"1e30", "sku"),
        "$.sku",
        "is greater than the maximum of 2147483647",
    ),
    RecordCase(
        "sku-of-40-digits",
        "products",
        _with(lz.product(), b"9" * 40, "sku"),
        "$.sku",
        "is greater than the maximum of 2147483647",
    ),
    RecordCase(
        "quantity-1e30",
        "transactions",
        _json(_transaction_with_item(quanitity=1e30)),
        "$.purchases.products[0].quanitity",
        "is greater than the maximum of 100000",
    ),
    RecordCase(
        "date-2020-02-30",
        "customers",
        _json(lz.customer("000103", last_change="2020-02-30")),
        "$.last_change",
        '"2020-02-30" is not a "date"',
    ),
    RecordCase(
        "year-0000",
        "customers",
        _json(lz.customer("000104", date_of_birth="0000-01-01")),
        "$.date_of_birth",
        "not a valid date",
    ),
    RecordCase(
        "time-2020-02-30",
        "transactions",
        _json(
            lz.transaction(
                "00000000-0000-4000-8000-0000000000f3", transaction_time="2020-02-30T10:00:00"
            )
        ),
        "$.transaction_time",
        "not a valid time",
    ),
    RecordCase(
        "sql-in-customer-id",
        "customers",
        _json(lz.customer("1'; DROP TABLE pii.customers; --")),
        "$.id",
        "does not match",
    ),
    RecordCase(
        "shell-in-transaction-id",
        "transactions",
        _json(lz.transaction("$(rm -rf /)")),
        "$.transaction_id",
        'is not a "uuid"',
    ),
    RecordCase(
        "shell-in-erasure-id",
        "erasure-requests",
        _json({"customer-id": "1`reboot`", "email": "a@example.com"}),
        "$.customer-id",
        "does not match",
    ),
    RecordCase(
        "missing-key",
        "customers",
        _json({k: v for k, v in lz.customer("000106").items() if k != "email"}),
        "$",
        '"email" is a required property',
    ),
    RecordCase(
        "array-for-the-record",
        "transactions",
        b"[" + _json(lz.transaction()) + b"]",
        "$",
        'is not of type "object"',
    ),
    RecordCase(
        "array-for-an-object",
        "transactions",
        _json(lz.transaction("00000000-0000-4000-8000-0000000000f4", delivery_address=["17 Road"])),
        "$.delivery_address",
        'is not of type "object"',
    ),
    RecordCase(
        "duplicate-key", "customers", _DUPLICATE_ID, "$", "duplicate key 'id' in one object"
    ),
    RecordCase(
        "nested-duplicate-key",
        "transactions",
        _NESTED_DUPLICATE,
        "$.purchases.products[0]",
        "duplicate key 'price' in one object",
    ),
    RecordCase(
        "nul-character",
        "customers",
        _with(lz.customer("000107"), b'"Jo\\u0000"', "first_name"),
        "$.first_name",
        "contains a NUL character",
    ),
    RecordCase(
        "bom-inside-a-line",
        "customers",
        _json(lz.customer("000108")).replace(b'"city"', b'\xef\xbb\xbf"city"'),
        "$",
        "malformed JSON",
    ),
    RecordCase(
        "line-of-50-mib",
        "products",
        _with(lz.product(8), b'"' + b"x" * FIFTY_MIB + b'"', "name"),
        "$",
        "bytes is longer than the maximum record size of 1048576 bytes; not parsed, "
        "payload truncated to its first 4096 bytes",
    ),
]

GOOD_RECORDS = {
    "products": [lz.product(1), lz.product(2)],
    "customers": [lz.customer("000001"), lz.customer("000002")],
    "transactions": [
        lz.transaction("00000000-0000-4000-8000-000000000001"),
        lz.transaction("00000000-0000-4000-8000-000000000002"),
    ],
    "erasure-requests": [
        {"customer-id": "999001", "email": "nobody1@example.com"},
        {"customer-id": "999002", "email": "nobody2@example.com"},
    ],
}


@dataclass(frozen=True)
class FileCase:
    """A whole hostile file: its bytes, and the load it must get.

    `records` is (read, loaded, quarantined) for the load-log row; `error` a fragment of the
    load log's error.
    """

    id: str
    name: str
    data: bytes
    status: str
    records: tuple[int, int, int]
    error: str | None = None
    dataset: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", self.name.split(".")[0])


def _lines(records: list[dict], ending: bytes = b"\n") -> bytes:
    return b"".join(_json(record) + ending for record in records)


_CUSTOMERS = [lz.customer(f"0005{n:02d}") for n in range(300)]
_WHOLE = gzip.compress(_lines(_CUSTOMERS), mtime=0)

FILE_CASES = [
    FileCase(
        "truncated-gzip",
        "customers.json.gz",
        _WHOLE[: len(_WHOLE) // 2],
        "rejected",
        (-1, 0, -1),
        "gzip stream ends early (truncated file)",
    ),
    FileCase(
        "not-gzip",
        "customers.json.gz",
        _lines(_CUSTOMERS[:3]),
        "rejected",
        (0, 0, 0),
        "not a gzip file",
    ),
    FileCase(
        "zero-byte-gzip",
        "customers.json.gz",
        b"",
        "rejected",
        (0, 0, 0),
        "empty file (0 bytes), not a gzip stream",
    ),
    FileCase(
        "trailing-garbage-after-gzip",
        "customers.json.gz",
        _WHOLE + b"garbage",
        "rejected",
        (300, 0, 300),
        "not a gzip file",
    ),
    FileCase("empty-json", "customers.json", b"", "loaded", (0, 0, 0)),
    FileCase("gzip-of-nothing", "customers.json.gz", gzip.compress(b""), "loaded", (0, 0, 0)),
    FileCase("only-blank-lines", "customers.json", b"\n  \r\n\t\n", "loaded", (0, 0, 0)),
    FileCase(
        "windows-line-endings",
        "customers.json.gz",
        gzip.compress(_lines(_CUSTOMERS[:3], b"\r\n")),
        "loaded",
        (3, 3, 0),
    ),
    FileCase(
        "byte-order-mark",
        "customers.json",
        b"\xef\xbb\xbf" + _lines(_CUSTOMERS[:3], b"\r\n"),
        "loaded",
        (3, 3, 0),
    ),
    FileCase(
        "byte-order-marks-of-files-concatenated",
        "customers.json.gz",
        gzip.compress(
            b"\xef\xbb\xbf"
            + _lines(_CUSTOMERS[:2], b"\r\n")
            + b"\xef\xbb\xbf"
            + _lines(_CUSTOMERS[2:3], b"\r\n")
        ),
        "loaded",
        (3, 3, 0),
    ),
    FileCase(
        "two-gzip-members",
        "customers.json.gz",
        gzip.compress(_lines(_CUSTOMERS[:2])) + gzip.compress(_lines(_CUSTOMERS[2:3])),
        "loaded",
        (3, 3, 0),
    ),
    FileCase(
        "no-final-newline",
        "customers.json",
        _lines(_CUSTOMERS[:3]).rstrip(b"\n"),
        "loaded",
        (3, 3, 0),
    ),
]
