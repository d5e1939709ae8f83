"""Encrypt what a warehouse from before 090 holds in plain text, and drop the plain text.

090 renames the plaintext columns *_plaintext; SQL cannot encrypt them (the keys are not in
the database), so this runs right after the migrations, when they are still there: it reads a
few thousand rows at a time, seals them under their customers' data keys (made as a load makes
them) and today's quarantine key, and writes them back, all in one transaction. The rewritten
rows' old versions stay in the tables' data files until VACUUM FULL rewrites them: it says so.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from etl.encryption import crypto
from etl.encryption.crypto import DataCipher
from etl.encryption.keystore import KeyRing, Keystore
from etl.loading import quarantine
from etl.privacy.pseudonym import customer_key, pseudonym

log = logging.getLogger(__name__)

BATCH_ROWS = 5000
CUSTOMER_COLUMNS = (
    "first_name", "last_name", "date_of_birth", "email", "phone_number", "phone_extension",
    "address", "postcode",
)  # fmt: skip
ADDRESS_COLUMNS = ("address", "postcode")
VACUUM = "VACUUM FULL pii.customers, pii.delivery_addresses, ops.quarantine"


def encrypt_plaintext(conn: psycopg.Connection, keys: Keystore, pseudonym_key: bytes) -> bool:
    """Encrypt and drop the *_plaintext columns, if any are left; return whether there were."""
    ring = KeyRing(keys)
    with conn.transaction():
        if not _has_column(conn, "pii", "customers", "email_plaintext"):
            return False
        customers = _customers(conn, ring, pseudonym_key)
        addresses = _addresses(conn, ring, pseudonym_key)
        lines = _quarantine(conn, ring, pseudonym_key)
        conn.execute(
            "ALTER TABLE pii.customers "
            + ", ".join(f"DROP COLUMN {c}_plaintext" for c in CUSTOMER_COLUMNS)
        )
        conn.execute(
            "ALTER TABLE pii.delivery_addresses "
            + ", ".join(f"DROP COLUMN {c}_plaintext" for c in ADDRESS_COLUMNS)
        )
        conn.execute("ALTER TABLE ops.quarantine DROP COLUMN payload_plaintext")
    log.warning(
        "encrypted %d customers, %d delivery addresses and %d quarantined lines; their plain "
        "text stays in the tables' data files until you run: %s",
        customers, addresses, lines, VACUUM,
    )  # fmt: skip
    return True


def _customers(conn: psycopg.Connection, ring: KeyRing, pseudonym_key: bytes) -> int:
    plain = ", ".join(f"{c}_plaintext" for c in CUSTOMER_COLUMNS)
    done, after = 0, ""
    while True:
        rows = conn.execute(
            f"""
            SELECT customer_id, customer_key, {plain} FROM pii.customers
            WHERE customer_id > %s ORDER BY customer_id LIMIT %s
            """,
            (after, BATCH_ROWS),
        ).fetchall()
        if not rows:
            return done
        ciphers = ring.customers({row[1] for row in rows}, create=True)
        updates = []
        for customer_id, key, *values in rows:
            sealed = [
                _seal(ciphers[key], value, f"pii.customers.{column}", customer_id)
                for column, value in zip(CUSTOMER_COLUMNS, values, strict=True)
            ]
            email = values[CUSTOMER_COLUMNS.index("email")]
            updates.append((*sealed, email and pseudonym(email, pseudonym_key), customer_id))
        assignments = ", ".join(f"{c} = %s" for c in (*CUSTOMER_COLUMNS, "email_key"))
        with conn.cursor() as cursor:
            cursor.executemany(
                f"UPDATE pii.customers SET {assignments}, "
                + ", ".join(f"{c}_plaintext = NULL" for c in CUSTOMER_COLUMNS)
                + " WHERE customer_id = %s",
                updates,
            )
        done += len(rows)
        after = rows[-1][0]


def _addresses(conn: psycopg.Connection, ring: KeyRing, pseudonym_key: bytes) -> int:
    done = 0
    while True:
        rows = conn.execute(
            """
            SELECT transaction_time, transaction_id, customer_id, address_plaintext,
                   postcode_plaintext
            FROM pii.delivery_addresses WHERE address_plaintext IS NOT NULL LIMIT %s
            """,
            (BATCH_ROWS,),
        ).fetchall()
        if not rows:
            return done
        owners = {row[2]: customer_key(row[2], pseudonym_key) for row in rows}
        ciphers = ring.customers(set(owners.values()), create=True)
        updates = [
            (
                _seal(ciphers[owners[owner]], address, "pii.delivery_addresses.address", owner),
                _seal(ciphers[owners[owner]], postcode, "pii.delivery_addresses.postcode", owner),
                time,
                transaction_id,
            )
            for time, transaction_id, owner, address, postcode in rows
        ]
        with conn.cursor() as cursor:
            cursor.executemany(
                """
                UPDATE pii.delivery_addresses
                SET address = %s, postcode = %s, address_plaintext = NULL,
                    postcode_plaintext = NULL
                WHERE transaction_time = %s AND transaction_id = %s
                """,
                updates,
            )
        done += len(rows)


def _quarantine(conn: psycopg.Connection, ring: KeyRing, pseudonym_key: bytes) -> int:
    done = 0
    while True:
        rows = conn.execute(
            """
            SELECT partition_date, source_file, line_number, payload_plaintext
            FROM ops.quarantine WHERE payload_plaintext IS NOT NULL LIMIT %s
            """,
            (BATCH_ROWS,),
        ).fetchall()
        if not rows:
            return done
        updates = [
            (
                *quarantine.seal(
                    ring, source_file, line_number, payload, payload.encode(), pseudonym_key
                ),
                source_file,
                line_number,
                partition_date,
            )
            for partition_date, source_file, line_number, payload in rows
        ]
        with conn.cursor() as cursor:
            cursor.executemany(
                """
                UPDATE ops.quarantine
                SET payload = %s, key_day = %s, subjects = %s, payload_plaintext = NULL
                WHERE source_file = %s AND line_number = %s AND partition_date = %s
                """,
                updates,
            )
        done += len(rows)


def _seal(cipher: DataCipher, value: Any, stored: str, owner: str) -> bytes | None:
    if value is None:
        return None
    return crypto.encrypt(cipher, str(value), crypto.associated_data(stored, owner))


def _has_column(conn: psycopg.Connection, schema: str, table: str, column: str) -> bool:
    return bool(
        conn.execute(
            """
            SELECT 1 FROM information_schema.columns
            WHERE table_schema = %s AND table_name = %s AND column_name = %s
            """,
            (schema, table, column),
        ).fetchone()
    )
