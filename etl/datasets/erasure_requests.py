"""Erasure requests: carry out GDPR erasure for requests whose id and e-mail match a customer.

Rules: a request is carried out only when both the customer id and the e-mail match the stored
customer after normalising (trimmed id, trimmed lower-case e-mail); a mismatch or an unknown
customer is recorded with its reason and changes nothing else; the same request seen again (in
.json and .json.gz, or a later file) is handled once and counted as a duplicate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import psycopg

from etl.loading.dataset import (
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
    "stg_erasure_requests",
    ("source_line", "request_id", "customer_id", "customer_key", "email"),
    ("integer", "text", "text", "text", "text"),
)


def to_staging(
    record: dict[str, Any], line_number: int, context: LoadContext
) -> Iterator[StagingRow]:
    """One normalised request; its id is a keyed hash of what it asks, so repeats share it."""
    customer_id = record["customer-id"].strip()
    try:
        email = cleaning.email(record["email"])
    except ValueError as error:
        raise RecordRejected([RecordError("$.email", f"not an e-mail address: {error}")]) from None
    key = context.pseudonym_key
    yield (
        STAGING.name,
        (
            line_number,
            pseudonym(f"erasure-request\n{customer_id}\n{email}", key),
            customer_id,
            customer_key(customer_id, key),
            email,
        ),
    )


def carry_out(conn: psycopg.Connection, context: LoadContext) -> MergeResults:
    """Carry out the batch's new requests in the order of the landing zone and log each one."""
    key = context.pseudonym_key
    requests = conn.execute(
        """
        SELECT DISTINCT ON (request_id)
               request_id, customer_id, customer_key, email, f.source_file, source_line,
               file_number
        FROM stg_erasure_requests r JOIN stg_files f USING (file_number)
        WHERE NOT EXISTS (SELECT 1 FROM privacy.erasure_log l WHERE l.request_id = r.request_id)
        ORDER BY request_id, f.source_file, source_line
        """
    ).fetchall()
    new = Counter()
    for request_id, customer_id, subject_key, email, source_file, source_line, number in sorted(
        requests, key=lambda request: (request[4], request[5])
    ):
        outcome, removed = _carry_out_one(conn, request_id, customer_id, subject_key, email, key)
        conn.execute(
            """
            INSERT INTO privacy.erasure_log (
                request_id, customer_key, email_key, outcome, removed, source_file, source_line
            ) VALUES (%s, %s, %s, %s, %s, %s, %s)
            """,
            (
                request_id,
                subject_key,
                pseudonym(email, key),
                outcome,
                orjson.dumps(removed).decode(),
                source_file,
                source_line,
            ),
        )
        new[number] += 1
    staged = conn.execute(
        "SELECT file_number, count(*) FROM stg_erasure_requests GROUP BY file_number"
    ).fetchall()
    return {
        number: MergeResult(loaded=new[number], duplicate=records - new[number])
        for number, records in staged
    }


def _carry_out_one(
    conn: psycopg.Connection,
    request_id: str,
    customer_id: str,
    subject_key: str,
    email: str,
    key: bytes,
) -> tuple[str, dict[str, int]]:
    stored = conn.execute(
        # no row lock needed: the erasure lock is held exclusively, no load runs meanwhile
        "SELECT email_key FROM pii.customers WHERE customer_id = %s",
        (customer_id,),
    ).fetchone()
    if stored is None:
        already = conn.execute(
            "SELECT 1 FROM privacy.erased_customers WHERE customer_key = %s", (subject_key,)
        ).fetchone()
        return ("already_erased" if already else "unknown_customer"), {}
    email_key = pseudonym(email, key)
    if stored[0] != email_key:
        return "email_mismatch", {}
    return "erased", erasure.erase_customer(conn, customer_id, email_key, request_id, key)


def forget(conn: psycopg.Connection, files: Sequence[LandingFile]) -> None:
    """Nothing to undo: an erasure carried out stays carried out when its file changes."""


DATASET = Dataset(
    name="erasure-requests",
    subject_field="customer-id",
    source_tables=("privacy.erasure_log",),
    counted_tables=("privacy.erasure_log",),
    staging=(STAGING,),
    to_staging=to_staging,
    merge=carry_out,
    forget=forget,
    exclusive=True,
)
