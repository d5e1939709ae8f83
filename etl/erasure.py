"""GDPR erasure: what is removed for an erased customer, and how loads keep them erased."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from etl import locks
from etl.pseudonym import customer_key, pseudonym

# A customer id in a line that may not even parse, under any field a dataset names its customer
# by (etl.dataset.Dataset.subject_field: id, customer_id, customer-id).
_SUBJECT_IN_RAW = re.compile(rb'"(?:id|customer_id|customer-id)"\s*:\s*"\s*([0-9]+)\s*"')
_EMAIL_IN_RAW = re.compile(rb"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class ErasedCustomers:
    """The tombstones a load checks every record against (pseudonyms, never identifiers)."""

    customer_keys: frozenset[str] = frozenset()
    email_keys: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.customer_keys)

    def covers(self, customer_id: str | None, key: bytes) -> bool:
        """Whether the customer with this id is erased."""
        return (
            customer_id is not None and customer_key(customer_id.strip(), key) in self.customer_keys
        )

    def covers_record(self, record: Any, subject_field: str | None, key: bytes) -> bool:
        """Whether a parsed record, which names its customer by `subject_field`, belongs to an
        erased customer."""
        if not subject_field or not isinstance(record, Mapping):
            return False
        value = record.get(subject_field)
        return isinstance(value, str) and self.covers(value, key)

    def covers_raw(self, raw: bytes, key: bytes) -> bool:
        """Whether a line that may not even parse names an erased customer's id or e-mail."""
        for match in _SUBJECT_IN_RAW.finditer(raw):
            if self.covers(match.group(1).decode(), key):
                return True
        for match in _EMAIL_IN_RAW.finditer(raw):
            email = match.group(0).decode(errors="replace").lower()
            if pseudonym(email, key) in self.email_keys:
                return True
        return False


def erased_customers(conn: psycopg.Connection) -> ErasedCustomers:
    """The tombstones now in force (read after taking the erasure lock)."""
    rows = conn.execute("SELECT customer_key, email_key FROM privacy.erased_customers").fetchall()
    return ErasedCustomers(
        frozenset(row[0] for row in rows), frozenset(row[1] for row in rows if row[1])
    )


def erase_customer(
    conn: psycopg.Connection, customer_id: str, email: str, request_id: str, key: bytes
) -> dict[str, int]:
    """Remove a customer's personal data everywhere the warehouse keeps it; return rows removed.

    Transactions stay, under the customer's pseudonym, so that sales, basket and repeat-purchase
    figures do not change; their delivery addresses go. The tombstone keeps the customer erased.
    """
    subject_key = customer_key(customer_id, key)
    removed = {
        "pii.customers": _delete(conn, "pii.customers", "customer_id = %s", customer_id),
        "pii.delivery_addresses": _delete(
            conn, "pii.delivery_addresses", "customer_id = %s", customer_id
        ),
        "warehouse.customers": _delete(
            conn, "warehouse.customers", "customer_key = %s", subject_key
        ),
        # Rejected records of the customer: by the id they name, or by the e-mail anywhere.
        "ops.quarantine": _delete(
            conn,
            "ops.quarantine",
            "(payload ~ %s OR strpos(lower(payload), %s) > 0)",
            rf'"(id|customer_id|customer-id)"\s*:\s*"\s*{customer_id}\s*"',
            email,
        ),
    }
    removed["ops.load_log"] = conn.execute(
        "UPDATE ops.load_log SET error = '[removed by erasure]' WHERE strpos(lower(error), %s) > 0",
        (email,),
    ).rowcount
    conn.execute(
        """
        INSERT INTO privacy.erased_customers (customer_key, customer_id, email_key, request_id)
        VALUES (%s, %s, %s, %s)
        ON CONFLICT (customer_key) DO NOTHING
        """,
        (subject_key, customer_id, pseudonym(email, key), request_id),
    )
    return removed


def resolve_pending(conn: psycopg.Connection, arrived: str, key: bytes) -> set[str]:
    """Carry out pending requests for customers that just arrived; return the ids of those
    erased.

    `arrived` is a query of (customer_id, customer_key, email) rows. A pending request whose
    e-mail matches is carried out now; one whose e-mail does not becomes an e-mail mismatch.
    """
    matching = f"""
        FROM ({arrived}) a
        JOIN privacy.erasure_log l
          ON l.customer_key = a.customer_key AND l.outcome = 'unknown_customer'
    """
    if not conn.execute(f"SELECT EXISTS (SELECT 1 {matching})").fetchone()[0]:
        return set()
    # Rare (a backfill of older files after the request): wait for running loads, so that none
    # of them can still store this customer's data after the erasure commits.
    locks.lock_erasure_exclusive(conn)
    pending = conn.execute(
        f"""
        SELECT l.request_id, a.customer_id, a.email, l.email_key
        {matching}
        ORDER BY l.source_file, l.source_line
        """
    ).fetchall()
    erased: set[str] = set()
    for request_id, customer_id, email, email_key in pending:
        if customer_id in erased:
            outcome, removed = "already_erased", {}
        elif email is not None and pseudonym(email, key) == email_key:
            outcome, removed = "erased", erase_customer(conn, customer_id, email, request_id, key)
            erased.add(customer_id)
        else:
            outcome, removed = "email_mismatch", {}
        conn.execute(
            """
            UPDATE privacy.erasure_log SET outcome = %s, removed = %s, processed_at = now()
            WHERE request_id = %s
            """,
            (outcome, orjson.dumps(removed).decode(), request_id),
        )
    return erased


def _delete(conn: psycopg.Connection, table: str, condition: str, *params: str) -> int:
    return conn.execute(f"DELETE FROM {table} WHERE {condition}", params).rowcount
