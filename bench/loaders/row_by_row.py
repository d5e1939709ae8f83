"""A row-by-row loader in the style common in small ETL projects.

json.loads, a jsonschema check per record, a SELECT to see whether the transaction is already
there, then one INSERT per row (transaction, each item, the delivery address) with psycopg2 and
a commit per file; the pseudonym is the same HMAC. Two variants: `load` validates with
`jsonschema.validate(record, schema)`, the idiom of jsonschema's quick start, which checks the
schema itself on every call; `load_compiled` builds the validator once, as a project does once
it notices. Both stop at their time cap; the harness extrapolates from the rate they kept.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path

import jsonschema
import psycopg2

from bench.loaders import DATASET, Loaded, LoadOptions, prepare_months, transaction_files
from etl.privacy.pseudonym import pseudonym
from etl.settings import SCHEMAS_DIR


def load(database_url: str, raw_data: Path, options: LoadOptions) -> Loaded:
    """Insert every valid transaction, validating with jsonschema.validate() per record."""
    schema = _schema()

    def is_valid(record: dict) -> bool:
        try:
            jsonschema.validate(record, schema)
        except jsonschema.ValidationError:
            return False
        return True

    return _load(database_url, raw_data, options, is_valid)


def load_compiled(database_url: str, raw_data: Path, options: LoadOptions) -> Loaded:
    """Insert every valid transaction, with a validator built once."""
    return _load(
        database_url, raw_data, options, jsonschema.Draft202012Validator(_schema()).is_valid
    )


def _schema() -> dict:
    return json.loads((SCHEMAS_DIR / f"{DATASET}.schema.json").read_text())


def _load(
    database_url: str, raw_data: Path, options: LoadOptions, is_valid: Callable[[dict], bool]
) -> Loaded:
    """One statement per row, one commit per file, until done or the cap is reached."""
    deadline = time.monotonic() + options.cap_seconds if options.cap_seconds else None
    prepare_months(database_url, raw_data, options)
    conn = psycopg2.connect(database_url)
    records = 0
    try:
        for landing_file in transaction_files(raw_data, options):
            source_file = landing_file.relative_path
            with (
                gzip.open(landing_file.path, "rt", encoding="utf-8") as handle,
                conn.cursor() as cursor,
            ):
                for line_number, line in enumerate(handle, start=1):
                    if deadline and time.monotonic() > deadline:
                        conn.commit()
                        return Loaded(records, capped=True)
                    record = json.loads(line)
                    records += 1
                    if not is_valid(record):
                        continue
                    _insert(cursor, record, source_file, line_number, options.pseudonym_key)
            conn.commit()
    finally:
        conn.close()
    return Loaded(records)


def _insert(cursor, record: dict, source_file: str, line_number: int, key: bytes) -> None:
    transaction_id = record["transaction_id"]
    cursor.execute(
        "SELECT 1 FROM warehouse.transaction_ids WHERE transaction_id = %s", (transaction_id,)
    )
    if cursor.fetchone():
        return
    customer_id = record["customer_id"].strip()
    address = record["delivery_address"]
    purchases = record["purchases"]
    cursor.execute(
        """
        INSERT INTO warehouse.transaction_ids (
            transaction_id, transaction_time, source_file, source_line
        ) VALUES (%s, %s, %s, %s)
        """,
        (transaction_id, record["transaction_time"], source_file, line_number),
    )
    cursor.execute(
        """
        INSERT INTO warehouse.transactions (
            transaction_id, customer_key, transaction_time, delivery_city, delivery_country,
            total_cost, source_file, source_line
        ) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (
            transaction_id,
            pseudonym(customer_id, key),
            record["transaction_time"],
            address["city"],
            address["country"],
            purchases["total_cost"],
            source_file,
            line_number,
        ),
    )
    for number, item in enumerate(purchases["products"], start=1):
        cursor.execute(
            """
            INSERT INTO warehouse.transaction_items (
                transaction_id, transaction_time, line_number, sku, quantity, price, total
            ) VALUES (%s, %s, %s, %s, %s, %s, %s)
            """,
            (
                transaction_id,
                record["transaction_time"],
                number,
                item["sku"],
                item.get("quantity", item.get("quanitity")),
                item["price"],
                item["total"],
            ),
        )
    cursor.execute(
        """
        INSERT INTO pii.delivery_addresses (
            transaction_id, transaction_time, customer_id, address, postcode, city, country
        ) VALUES (%s, %s, %s, %s, %s, %s, %s)
        """,
        (
            transaction_id,
            record["transaction_time"],
            customer_id,
            address["address"],
            address["postcode"],
            address["city"],
            address["country"],
        ),
    )
