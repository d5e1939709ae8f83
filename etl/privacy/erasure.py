"""GDPR erasure: what is removed for an erased customer, and how loads keep them erased."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from etl.encryption.keystore import Keystore
from etl.loading import quarantine
from etl.privacy import subjects
from etl.privacy.pseudonym import customer_key
from etl.privacy.subjects import email_keys_named
from etl.warehouse import locks


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
        return not (
            self.customer_keys.isdisjoint(subjects.customer_keys_named(raw, key))
            and self.email_keys.isdisjoint(subjects.email_keys_named(raw, key))
        )


def erased_customers(conn: psycopg.Connection) -> ErasedCustomers:
    """The tombstones now in force (read after taking the erasure lock)."""
    rows = conn.execute("SELECT customer_key, email_key FROM privacy.erased_customers").fetchall()
    return ErasedCustomers(
        frozenset(row[0] for row in rows), frozenset(row[1] for row in rows if row[1])
    )


def erase_customer(
    conn: psycopg.Connection,
    customer_id: str,
    email_key: str,
    request_id: str,
    key: bytes,
) -> dict[str, int]:
    """Remove a customer's personal data everywhere the warehouse keeps it; return rows removed.

    Transactions stay, under the customer's pseudonym, so that sales, basket and repeat-purchase
    figures do not change; their delivery addresses go. The tombstone keeps the customer erased
    and records that their data key is to be destroyed: the keystore is another database, so
    the key goes once this transaction has committed (destroy_erased_keys), never before.
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
        # Rejected lines naming the customer: by the id they give, or by the e-mail anywhere.
        "ops.quarantine": quarantine.erase(conn, [subject_key, email_key]),
    }
    removed["ops.load_log"] = _scrub_load_errors(conn, email_key, key)
    conn.execute(
        """
        INSERT INTO privacy.erased_customers (customer_key, customer_id, email_key, request_id)
        VALUES (%s, %s, %s, %s)
        ON CONFLICT (customer_key) DO NOTHING
        """,
        (subject_key, customer_id, email_key, request_id),
    )
    return removed


def destroy_erased_keys(conn: psycopg.Connection, keystore: Keystore) -> int:
    """Destroy the data keys of erased customers whose erasure committed but whose key is not
    destroyed yet, and record that it is; return how many.

    Without a transaction spanning both databases, erasure is two steps: the rows' deletion and
    the tombstone commit together in the warehouse, then the key is destroyed here. A crash
    between the two leaves a tombstone with key_destroyed_at null, which every run and every
    erasure completes first; a key is never destroyed before its erasure is recorded.
    """
    with conn.transaction():
        pending = [
            row[0]
            for row in conn.execute(
                "SELECT customer_key FROM privacy.erased_customers WHERE key_destroyed_at IS NULL"
            )
        ]
        if not pending:
            return 0
        keystore.destroy_customer_keys(pending)
        conn.execute(
            "UPDATE privacy.erased_customers SET key_destroyed_at = now() "
            "WHERE customer_key = ANY(%s)",
            (pending,),
        )
    return len(pending)


def resolve_pending(conn: psycopg.Connection, arrived: str, key: bytes) -> set[str]:
    """Carry out pending requests for customers that just arrived; return the ids of those
    erased.

    `arrived` is a query of (customer_id, customer_key, email_key) rows. A pending request whose
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
        SELECT l.request_id, a.customer_id, a.email_key, l.email_key
        {matching}
        ORDER BY l.source_file, l.source_line
        """
    ).fetchall()
    erased: set[str] = set()
    for request_id, customer_id, stored_email_key, email_key in pending:
        if customer_id in erased:
            outcome, removed = "already_erased", {}
        elif stored_email_key is not None and stored_email_key == email_key:
            outcome = "erased"
            removed = erase_customer(conn, customer_id, email_key, request_id, key)
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


def _scrub_load_errors(conn: psycopg.Connection, email_key: str, key: bytes) -> int:
    """Clear the load log's errors that quote the customer's e-mail, found by its keyed hash
    (the warehouse keeps no e-mail in plain text to search for): an error quoting a record can
    hold one. Few errors hold an @ at all."""
    quoting = [
        load_id
        for load_id, error in conn.execute(
            "SELECT load_id, error FROM ops.load_log WHERE strpos(error, '@') > 0"
        )
        if email_key in email_keys_named(error.encode(), key)
    ]
    if not quoting:
        return 0
    return conn.execute(
        "UPDATE ops.load_log SET error = '[removed by erasure]' WHERE load_id = ANY(%s)",
        (quoting,),
    ).rowcount


def _delete(conn: psycopg.Connection, table: str, condition: str, *params: str) -> int:
    return conn.execute(f"DELETE FROM {table} WHERE {condition}", params).rowcount


def keys_remaining(conn: psycopg.Connection, keystore: Keystore) -> list[str]:
    """Pseudonyms of erased customers whose data key the keystore still holds (a destruction
    not completed yet, or a key restored from a backup of the keystore)."""
    erased = [row[0] for row in conn.execute("SELECT customer_key FROM privacy.erased_customers")]
    return sorted(keystore.customer_keys(erased)) if erased else []
