"""The limit: the same files read, parsed and COPYed into the same tables, with no validation.

Only what the target tables demand is computed: the customer's pseudonym (a constrained column).
No schema check, no cleaning, no duplicate handling, no quarantine, no load log. Files go in the
pipeline's batches (etl.loading.file_load.batches: consecutive files up to a few MiB), each batch in
one transaction, its rows sent in rounds of 5,000 records whatever the files' sizes, so that small
hourly files cost no more than their bytes; batches load in parallel over `workers` processes, like
the pipeline's.
"""

from __future__ import annotations

import gzip
from multiprocessing import Pool
from pathlib import Path

import orjson
import psycopg

from bench.loaders import Loaded, LoadOptions, prepare_months, transaction_files
from etl.loading import file_load
from etl.privacy.pseudonym import customer_key

# Records per round of COPYs: ids and transactions first, then their items and addresses
# (foreign keys).
_BATCH_RECORDS = 5000
_TABLES = (
    ("warehouse.transaction_ids", "transaction_id, transaction_time, source_file, source_line"),
    (
        "warehouse.transactions",
        "transaction_id, customer_key, transaction_time, delivery_city, delivery_country, "
        "total_cost, source_file, source_line",
    ),
    (
        "warehouse.transaction_items",
        "transaction_id, transaction_time, line_number, sku, quantity, price, total",
    ),
    (
        "pii.delivery_addresses",
        "transaction_id, transaction_time, customer_id, address, postcode, city, country",
    ),
)

_conn: psycopg.Connection | None = None
_key = b""


def load(database_url: str, raw_data: Path, options: LoadOptions) -> Loaded:
    """COPY every transaction file under `raw_data`; return the records sent."""
    batches = [
        [(f.path, f.relative_path) for f in batch]
        for batch in file_load.batches(transaction_files(raw_data, options))
    ]
    prepare_months(database_url, raw_data, options)
    init = (database_url, options.pseudonym_key)
    if options.workers <= 1:
        _connect(*init)
        return Loaded(sum(_load_batch(batch) for batch in batches))
    with Pool(options.workers, initializer=_connect, initargs=init) as pool:
        return Loaded(sum(pool.map(_load_batch, batches, chunksize=1)))


def _connect(database_url: str, key: bytes) -> None:
    global _conn, _key
    _conn, _key = psycopg.connect(database_url), key


def _load_batch(files: list[tuple[Path, str]]) -> int:
    rows: tuple[list, list, list, list] = ([], [], [], [])
    records = 0
    for path, source_file in files:
        with gzip.open(path, "rb") as handle:
            for line_number, line in enumerate(handle, start=1):
                _add(rows, orjson.loads(line), source_file, line_number)
                records += 1
                if len(rows[0]) >= _BATCH_RECORDS:
                    _send(rows)
    _send(rows)
    _conn.commit()
    return records


def _add(batch: tuple[list, list, list, list], record: dict, source_file: str, line: int) -> None:
    ids, transactions, items, addresses = batch
    transaction_id = record["transaction_id"]
    address = record["delivery_address"]
    purchases = record["purchases"]
    ids.append((transaction_id, record["transaction_time"], source_file, line))
    transactions.append(
        (
            transaction_id,
            customer_key(record["customer_id"], _key),
            record["transaction_time"],
            address["city"],
            address["country"],
            purchases["total_cost"],
            source_file,
            line,
        )
    )
    for number, item in enumerate(purchases["products"], start=1):
        quantity = item.get("quantity", item.get("quanitity"))
        items.append(
            (
                transaction_id,
                record["transaction_time"],
                number,
                item["sku"],
                quantity,
                item["price"],
                item["total"],
            )
        )
    addresses.append(
        (
            transaction_id,
            record["transaction_time"],
            record["customer_id"],
            address["address"],
            address["postcode"],
            address["city"],
            address["country"],
        )
    )


def _send(batch: tuple[list, list, list, list]) -> None:
    with _conn.cursor() as cursor:
        for (table, columns), rows in zip(_TABLES, batch, strict=True):
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            rows.clear()
