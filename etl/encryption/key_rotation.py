"""Rotate the pseudonym key: re-key every pseudonym in the warehouse in one transaction."""

from __future__ import annotations

import psycopg

from etl.encryption import key_fingerprints
from etl.encryption.keystore import KeyRing, Keystore
from etl.encryption.sealing import open_value
from etl.loading import quarantine
from etl.privacy import erasure
from etl.privacy.pseudonym import customer_key, pseudonym
from etl.privacy.subjects import subjects_named
from etl.warehouse import locks

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


def rotate_key(
    conn: psycopg.Connection, old_key: bytes, new_key: bytes, keys: Keystore
) -> dict[str, int]:
    """Replace every pseudonym computed with `old_key` by the one computed with `new_key`.

    Runs alone (it holds the erasure lock exclusively, so no load runs meanwhile) and in one
    transaction: it commits whole or not at all, with `new_key`'s fingerprint recorded as the
    warehouse's key (etl/encryption/key_fingerprints.py), so that commands given the old key refuse
    from then on. E-mail hashes of erased customers cannot be recomputed (their e-mail is gone) and
    are cleared; the customers' own are recomputed from their decrypted e-mail, the quarantine's
    from the payloads still readable. Returns rows updated per table.

    The customers' data keys are named by pseudonym in the keystore, another database: they
    are copied under the new pseudonyms before the warehouse commits and the old names deleted
    after, so that a crash at any point leaves every key findable under the pseudonym the
    warehouse holds (at worst also under the old one, until rotate-key runs again).
    """
    erasure.destroy_erased_keys(conn, keys)
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
        mapping = dict(conn.execute("SELECT old_key, new_key FROM key_map").fetchall())
        keys.copy_customer_keys(mapping)
        updated = {}
        for table, column in _PSEUDONYM_COLUMNS:
            updated[table] = conn.execute(
                f"UPDATE {table} t SET {column} = m.new_key FROM key_map m "
                f"WHERE t.{column} = m.old_key"
            ).rowcount
        conn.execute("UPDATE privacy.erased_customers SET email_key = NULL")
        ring = KeyRing(keys)
        _rekey_emails(conn, ring, new_key)
        updated["ops.quarantine"] = _rekey_quarantine(conn, ring, mapping, new_key)
        key_fingerprints.replace(conn, key_fingerprints.PSEUDONYM_KEY, new_key)
    keys.destroy_customer_keys(set(mapping) - set(mapping.values()))
    return updated


def _rekey_emails(conn: psycopg.Connection, ring: KeyRing, new_key: bytes) -> None:
    rows = conn.execute(
        "SELECT customer_id, customer_key, email FROM pii.customers WHERE email IS NOT NULL"
    ).fetchall()
    ciphers = ring.customers({row[1] for row in rows})
    with conn.cursor() as cursor:
        cursor.executemany(
            "UPDATE pii.customers SET email_key = %s WHERE customer_id = %s",
            [
                (
                    pseudonym(open_value(ciphers[key], email, "pii.customers.email", id_), new_key),
                    id_,
                )
                for id_, key, email in rows
            ],
        )


def _rekey_quarantine(
    conn: psycopg.Connection, ring: KeyRing, mapping: dict[str, str], new_key: bytes
) -> int:
    """Subjects from the payloads still readable; of the others, the customers mapped (their
    e-mails' hashes cannot be recomputed and are dropped)."""
    rows = conn.execute("SELECT source_file, line_number, subjects FROM ops.quarantine").fetchall()
    updates = []
    for source_file, line_number, old_subjects in rows:
        line = quarantine.show(conn, ring, source_file, line_number)
        if line is not None and line.payload is not None:
            subjects = subjects_named(line.payload.encode(), new_key)
        else:
            subjects = sorted(mapping[s] for s in old_subjects if s in mapping)
        updates.append((subjects, source_file, line_number))
    with conn.cursor() as cursor:
        cursor.executemany(
            "UPDATE ops.quarantine SET subjects = %s WHERE source_file = %s AND line_number = %s",
            updates,
        )
    return len(updates)
