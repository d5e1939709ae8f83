"""Customers: personal data into pii.customers, the pseudonymous profile into warehouse.customers.

Rules: the newest record of a customer wins (latest last_change, then the later file and line);
e-mails are trimmed and lower-cased, phone numbers read into E.164, postcodes normalised.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from etl import cleaning, erasure
from etl.cli import standalone_main
from etl.dataset import CustomerErased, Dataset, LoadContext, MergeResult, StagingRow, StagingTable
from etl.landing import LandingFile
from etl.pseudonym import customer_key
from etl.validation import RecordError, RecordRejected

STAGING = StagingTable(
    "stg_customers",
    (
        "source_line", "customer_id", "customer_key", "first_name", "last_name", "date_of_birth",
        "email", "phone_number", "phone_number_is_e164", "phone_extension", "address", "postcode",
        "postcode_district", "city", "country", "segment", "last_change",
    ),
    (
        "integer", "text", "text", "text", "text", "date",
        "text", "text", "boolean", "text", "text", "text",
        "text", "text", "text", "text", "date",
    ),
)  # fmt: skip


def to_staging(
    record: dict[str, Any], line_number: int, context: LoadContext
) -> Iterator[StagingRow]:
    """One clean customer.

    Raises:
        RecordRejected: the e-mail is not an e-mail address.
        CustomerErased: the customer was erased and must stay so.
    """
    customer_id = record["id"].strip()
    if context.is_erased(customer_id):
        raise CustomerErased(customer_id)
    try:
        email = cleaning.email(record["email"])
    except ValueError as error:
        raise RecordRejected([RecordError("$.email", f"not an e-mail address: {error}")]) from None
    country = cleaning.text(record["country"])
    phone = cleaning.phone(record.get("phone_number"), country)
    postcode = cleaning.postcode(record["postcode"])
    yield (
        STAGING.name,
        (
            line_number,
            customer_id,
            customer_key(customer_id, context.pseudonym_key),
            cleaning.text(record.get("first_name")),
            cleaning.text(record.get("last_name")),
            record.get("date_of_birth"),
            email,
            phone.number if phone else None,
            phone.is_e164 if phone else None,
            phone.extension if phone else None,
            cleaning.text(record["address"]),
            postcode.code,
            postcode.district,
            cleaning.text(record["city"]),
            country,
            cleaning.text(record.get("segment")),
            record["last_change"],
        ),
    )


_PII_COLUMNS = (
    "customer_id, customer_key, first_name, last_name, date_of_birth, email, phone_number, "
    "phone_number_is_e164, phone_extension, address, postcode, city, country, last_change"
)
_PROFILE_COLUMNS = "customer_key, city, country, postcode_district, segment, last_change"


def merge(conn: psycopg.Connection, context: LoadContext) -> MergeResult:
    """Apply each customer's newest record from the file, unless a newer one is already stored."""
    landing_file = context.landing_file
    params = {"file": landing_file.relative_path}
    conn.execute(
        """
        CREATE TEMP TABLE customer_winners ON COMMIT DROP AS
        SELECT DISTINCT ON (customer_id) * FROM stg_customers
        ORDER BY customer_id, last_change DESC, source_line DESC
        """
    )
    conn.execute(
        """
        DELETE FROM customer_winners w USING pii.customers c
        WHERE c.customer_id = w.customer_id
          AND (c.last_change, c.source_file, c.source_line)
              > (w.last_change, %(file)s, w.source_line)
        """,
        params,
    )
    conn.execute(
        f"""
        INSERT INTO pii.customers ({_PII_COLUMNS}, source_file, source_line)
        SELECT {_PII_COLUMNS}, %(file)s, source_line FROM customer_winners ORDER BY customer_id
        ON CONFLICT (customer_id) DO UPDATE SET
            ({_PII_COLUMNS}, source_file, source_line)
            = ROW({_excluded(_PII_COLUMNS)}, EXCLUDED.source_file, EXCLUDED.source_line)
        """,
        params,
    )
    conn.execute(
        f"""
        INSERT INTO warehouse.customers ({_PROFILE_COLUMNS}, source_file, source_line)
        SELECT {_PROFILE_COLUMNS}, %(file)s, source_line FROM customer_winners ORDER BY customer_key
        ON CONFLICT (customer_key) DO UPDATE SET
            ({_PROFILE_COLUMNS}, source_file, source_line)
            = ROW({_excluded(_PROFILE_COLUMNS)}, EXCLUDED.source_file, EXCLUDED.source_line)
        """,
        params,
    )
    winners, staged = conn.execute(
        "SELECT (SELECT count(*) FROM customer_winners), (SELECT count(*) FROM stg_customers)"
    ).fetchone()
    erased = erasure.resolve_pending(
        conn, "SELECT customer_id, customer_key, email FROM customer_winners", context.pseudonym_key
    )
    return MergeResult(loaded=winners - erased, duplicate=staged - winners, erased=erased)


def forget(conn: psycopg.Connection, landing_file: LandingFile) -> None:
    """Remove the customers an earlier version of the file supplied."""
    for table in ("pii.customers", "warehouse.customers"):
        conn.execute(f"DELETE FROM {table} WHERE source_file = %s", (landing_file.relative_path,))


def _excluded(columns: str) -> str:
    return ", ".join(f"EXCLUDED.{column.strip()}" for column in columns.split(","))


DATASET = Dataset(
    name="customers",
    staging=(STAGING,),
    to_staging=to_staging,
    merge=merge,
    forget=forget,
    # a merge carries out pending erasures of arriving customers (erasure.resolve_pending)
    parallel=False,
)


def main() -> None:
    standalone_main(DATASET)


if __name__ == "__main__":
    main()
