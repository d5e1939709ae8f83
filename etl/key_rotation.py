"""Rotate the pseudonym key: re-key every pseudonym in the warehouse in one transaction."""

from __future__ import annotations

import psycopg

from etl import key_fingerprints, locks
from etl.pseudonym import customer_key

# Every column holding a customer pseudonym.
_PSEUDONYM_COLUMNS = (
    ("warehouse.customers", "customer_key"),
    ("warehouse.transactions", "customer_key"),
    ("pii.customers", "customer_key"),
    ("privacy.erased_customers", "customer_key"),
    ("privacy.erasure_log", "customer_key"),
    ("marts.customer_orders", "customer_key"),
    ("marts.customer_months", "customer_key"),
    ("marts.customer_days", "customer_key"),
)


class KeyRotationError(RuntimeError):
    """The warehouse holds a pseudonym whose customer id is unknown: it cannot be re-keyed."""


def rotate_key(conn: psycopg.Connection, old_key: bytes, new_key: bytes) -> dict[str, int]:
    """Replace every pseudonym computed with `old_key` by the one computed with `new_key`.

    Runs alone (it holds the erasure lock exclusively, so no load runs meanwhile) and in one
    transaction: it commits whole or not at all, with `new_key`'s fingerprint recorded as the
    warehouse's key (etl/key_fingerprints.py), so that commands given the old key refuse from then
    on. E-mail hashes of erased customers cannot be
    recomputed (their e-mail is gone) and are cleared. Returns rows updated per table.
    """
    with conn.transaction():
        locks.lock_erasure_exclusive(conn)
        ids = {
            row[0]
            for row in conn.execute(
                """
                SELECT customer_id FROM pii.customers
                UNION SELECT customer_id FROM pii.delivery_addresses
                UNION SELECT customer_id FROM privacy.erased_customers
                """
            )
        }
        conn.execute(
            "CREATE TEMP TABLE key_map (old_key text PRIMARY KEY, new_key text) ON COMMIT DROP"
        )
        with conn.cursor() as cursor, cursor.copy("COPY key_map FROM STDIN") as copy:
            for customer_id in ids:
                copy.write_row(
                    (customer_key(customer_id, old_key), customer_key(customer_id, new_key))
                )
        unknown = conn.execute(
            """
            SELECT count(*) FROM warehouse.transactions t
            WHERE NOT EXISTS (SELECT 1 FROM key_map m WHERE m.old_key = t.customer_key)
            """
        ).fetchone()[0]
        if unknown:
            raise KeyRotationError(
                f"{unknown} transactions have a pseudonym that no known customer id gives under "
                "the old key: is the old key right?"
            )
        updated = {}
        for table, column in _PSEUDONYM_COLUMNS:
            updated[table] = conn.execute(
                f"UPDATE {table} t SET {column} = m.new_key FROM key_map m "
                f"WHERE t.{column} = m.old_key"
            ).rowcount
        conn.execute("UPDATE privacy.erased_customers SET email_key = NULL")
        key_fingerprints.replace(conn, key_fingerprints.PSEUDONYM_KEY, new_key)
    return updated
