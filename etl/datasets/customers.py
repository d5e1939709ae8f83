"""Customers: personal data into pii.customers, the pseudonymous profile into warehouse.customers.

Rules: the newest record of a customer wins (latest last_change, then the later file and line);
e-mails are trimmed and lower-cased, phone numbers read into E.164, postcodes normalised.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import psycopg

from etl.encryption.sealing import Sealing
from etl.loading.dataset import (
    CustomerErased,
    Dataset,
    LoadContext,
    MergeResult,
    MergeResults,
    StagingRow,
    staging_table,
)
from etl.privacy import erasure
from etl.privacy.pseudonym import customer_key, pseudonym
from etl.source import cleaning
from etl.source.landing import LandingFile
from etl.source.validation import RecordError, RecordRejected

STAGING = staging_table(
    "stg_customers",
    (
        "source_line", "customer_id", "customer_key", "first_name", "last_name", "date_of_birth",
        "email", "email_key", "phone_number", "phone_number_is_e164", "phone_extension",
        "address", "postcode", "postcode_district", "city", "country", "segment", "last_change",
    ),
    (
        "integer", "text", "text", "bytea", "bytea", "bytea",
        "bytea", "text", "bytea", "boolean", "bytea",
        "bytea", "bytea", "text", "text", "text", "text", "date",
    ),
)  # fmt: skip
# The direct identifiers, encrypted under the customer's data key before they are staged.
SEALING = Sealing(
    STAGING,
    {
        column: f"pii.customers.{column}"
        for column in (
            "first_name", "last_name", "date_of_birth", "email", "phone_number",
            "phone_extension", "address", "postcode",
        )
    },
)  # fmt: skip
# Each customer's newest record in the batch, unless a newer one is stored.
WINNERS = STAGING.with_columns("customer_winners", ("source_file", "text"))


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
    errors = []
    try:
        email = cleaning.email(record["email"])
    except ValueError as error:
        errors.append(RecordError("$.email", f"not an e-mail address: {error}"))
    # The schema's date format admits year 0000, which neither Python nor PostgreSQL has.
    dates = {}
    for field in ("date_of_birth", "last_change"):
        try:
            dates[field] = record.get(field) and date.fromisoformat(record[field])
        except ValueError as error:
            errors.append(RecordError(f"$.{field}", f"not a valid date: {error}"))
    if errors:
        raise RecordRejected(errors)
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
            dates["date_of_birth"],
            email,
            email and pseudonym(email, context.pseudonym_key),
            phone.number if phone else None,
            phone.is_e164 if phone else None,
            phone.extension if phone else None,
            cleaning.text(record["address"]),
            postcode.code,
            postcode.district,
            cleaning.text(record["city"]),
            country,
            cleaning.text(record.get("segment")),
            dates["last_change"],
        ),
    )


_PII_COLUMNS = (
    "customer_id, customer_key, first_name, last_name, date_of_birth, email, email_key, "
    "phone_number, phone_number_is_e164, phone_extension, address, postcode, city, country, "
    "last_change"
)
_PROFILE_COLUMNS = "customer_key, city, country, postcode_district, segment, last_change"


def merge(conn: psycopg.Connection, context: LoadContext) -> MergeResults:
    """Apply each customer's newest record from the batch, unless a newer one is stored."""
    conn.execute(
        """
        INSERT INTO customer_winners
        SELECT DISTINCT ON (s.customer_id) s.*, f.source_file
        FROM stg_customers s JOIN stg_files f USING (file_number)
        ORDER BY s.customer_id, s.last_change DESC, f.source_file DESC, s.source_line DESC
        """
    )
    conn.execute(
        """
        DELETE FROM customer_winners w USING pii.customers c
        WHERE c.customer_id = w.customer_id
          AND (c.last_change, c.source_file, c.source_line)
              > (w.last_change, w.source_file, w.source_line)
        """
    )
    conn.execute(
        f"""
        INSERT INTO pii.customers ({_PII_COLUMNS}, source_file, source_line)
        SELECT {_PII_COLUMNS}, source_file, source_line FROM customer_winners ORDER BY customer_id
        ON CONFLICT (customer_id) DO UPDATE SET
            ({_PII_COLUMNS}, source_file, source_line)
            = ROW({_excluded(_PII_COLUMNS)}, EXCLUDED.source_file, EXCLUDED.source_line)
        """
    )
    conn.execute(
        f"""
        INSERT INTO warehouse.customers ({_PROFILE_COLUMNS}, source_file, source_line)
        SELECT {_PROFILE_COLUMNS}, source_file, source_line
        FROM customer_winners ORDER BY customer_key
        ON CONFLICT (customer_key) DO UPDATE SET
            ({_PROFILE_COLUMNS}, source_file, source_line)
            = ROW({_excluded(_PROFILE_COLUMNS)}, EXCLUDED.source_file, EXCLUDED.source_line)
        """
    )
    erased = erasure.resolve_pending(
        conn,
        "SELECT customer_id, customer_key, email_key FROM customer_winners",
        context.pseudonym_key,
    )
    rows = conn.execute(
        """
        WITH staged AS (
            SELECT file_number, count(*) AS records FROM stg_customers GROUP BY file_number
        ),
        stored AS (
            SELECT file_number, count(*) AS winners,
                   count(*) FILTER (WHERE customer_id = ANY(%s)) AS erased
            FROM customer_winners GROUP BY file_number
        )
        SELECT s.file_number, s.records, coalesce(w.winners, 0), coalesce(w.erased, 0)
        FROM staged s LEFT JOIN stored w USING (file_number)
        """,
        (sorted(erased),),
    ).fetchall()
    return {
        number: MergeResult(loaded=winners - erased_, duplicate=records - winners, erased=erased_)
        for number, records, winners, erased_ in rows
    }


def forget(conn: psycopg.Connection, files: Sequence[LandingFile]) -> None:
    """Remove the customers earlier versions of the files supplied."""
    for table in ("pii.customers", "warehouse.customers"):
        conn.execute(
            f"DELETE FROM {table} WHERE source_file = ANY(%s)", ([f.relative_path for f in files],)
        )


def _excluded(columns: str) -> str:
    return ", ".join(f"EXCLUDED.{column.strip()}" for column in columns.split(","))


DATASET = Dataset(
    name="customers",
    subject_field="id",
    rows_table="warehouse.customers",
    source_tables=("pii.customers", "warehouse.customers"),
    counted_tables=("pii.customers",),
    staging=(STAGING,),
    working=(WINNERS,),
    to_staging=to_staging,
    merge=merge,
    forget=forget,
    erases_on_arrival=True,
    sealing=SEALING,
)
