"""Fingerprints of the warehouse's keys: a command started with another key refuses to go on.

The first command to use a key records its fingerprint in ops.key_fingerprints; every later one
compares its key's fingerprint with it. A fingerprint is the HMAC-SHA-256 of a fixed label under
the key, shortened to 16 hex digits: equal keys give equal fingerprints, and the fingerprint
reveals nothing about the key.
"""

from __future__ import annotations

import psycopg

from etl.encryption.crypto import fingerprint
from etl.settings import Settings, SettingsError

# The names of the keys in ops.key_fingerprints: of customer pseudonyms, and the master key that
# wraps the data keys (etl/encryption/crypto.py).
PSEUDONYM_KEY = "pseudonym"
MASTER_KEY = "master"


class KeyMismatch(SettingsError):
    """The key a command was given is not the one the warehouse was built with."""


def ensure(conn: psycopg.Connection, name: str, key: bytes, variable: str) -> None:
    """Record the fingerprint of the key called `name` on its first use, else check `key` is it.

    Raises:
        KeyMismatch: the warehouse was built with another key; the message names `variable`
            (where the key came from) and both fingerprints.
    """
    given = fingerprint(key)
    with conn.transaction():
        expected = _recorded(conn, name)
        if expected is None:
            # Two first commands at once: the one that inserts second keeps the first's.
            conn.execute(
                "INSERT INTO ops.key_fingerprints (name, fingerprint) VALUES (%s, %s) "
                "ON CONFLICT (name) DO NOTHING",
                (name, given),
            )
            expected = _recorded(conn, name)
    if expected != given:
        raise KeyMismatch(
            f"{variable} is not the key this warehouse was built with: expected key "
            f"fingerprint {expected}, this key's is {given}; after `warehouse rotate-key`, "
            "set the new key"
        )


def replace(conn: psycopg.Connection, name: str, key: bytes) -> None:
    """Make `key` the one called `name` from now on (in the caller's transaction, if any)."""
    conn.execute(
        """
        INSERT INTO ops.key_fingerprints (name, fingerprint) VALUES (%s, %s)
        ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint, recorded_at = now()
        """,
        (name, fingerprint(key)),
    )


def ensure_keys(conn: psycopg.Connection, settings: Settings) -> None:
    """`ensure` every key `settings` hold, as their variables name them."""
    ensure(conn, PSEUDONYM_KEY, settings.pseudonym_key, "WAREHOUSE_PSEUDONYM_KEY")
    ensure(conn, MASTER_KEY, settings.master.key, "WAREHOUSE_MASTER_KEY")


def _recorded(conn: psycopg.Connection, name: str) -> str | None:
    row = conn.execute(
        "SELECT fingerprint FROM ops.key_fingerprints WHERE name = %s", (name,)
    ).fetchone()
    return row[0] if row else None
