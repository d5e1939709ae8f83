"""The keystore: customers' and quarantine days' data keys, wrapped by the master key, kept in a
database of their own so that no dump, base backup or replica of the warehouse holds them.

WAREHOUSE_KEYSTORE_URL names it; unset, it is the database `<warehouse database>_keystore` on
the warehouse's server, created on first use. A customer's key is found by their pseudonym,
never their id. Destroying a key (erasure, quarantine retention) deletes its row: every copy of
what it encrypted, wherever it is, is noise from then on (once the keystore's own backups that
still hold the key have expired).
"""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Collection, Iterable
from datetime import date

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from etl.database import connect
from etl.encryption import crypto
from etl.encryption.crypto import DataCipher, MasterKey
from etl.settings import SettingsError

SUFFIX = "_keystore"
CUSTOMER = b"customer"
QUARANTINE_DAY = b"quarantine day"

# Applied when the keystore lacks it; the roles get what their commands need, where they exist
# (a keystore on a server of its own may have other roles).
_SCHEMA = """
CREATE SCHEMA keystore;
CREATE TABLE keystore.customer_keys (
    customer_key text PRIMARY KEY CHECK (customer_key ~ '^[0-9a-f]{64}$'),
    wrapped      bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- the key of the lines quarantined on `day`
CREATE TABLE keystore.quarantine_keys (
    day        date PRIMARY KEY,
    wrapped    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- the master key every wrapped key is wrapped by (its fingerprint)
CREATE TABLE keystore.master_key (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    fingerprint text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warehouse_loader') THEN
        GRANT USAGE ON SCHEMA keystore TO warehouse_loader;
        -- a load carries out the erasure of a customer arriving after their request
        GRANT SELECT, INSERT, DELETE ON keystore.customer_keys, keystore.quarantine_keys
            TO warehouse_loader;
        GRANT SELECT ON keystore.master_key TO warehouse_loader;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO warehouse_loader', current_database());
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'warehouse_privacy_officer') THEN
        GRANT USAGE ON SCHEMA keystore TO warehouse_privacy_officer;
        GRANT SELECT, INSERT, DELETE ON keystore.customer_keys, keystore.quarantine_keys
            TO warehouse_privacy_officer;
        GRANT SELECT ON keystore.master_key TO warehouse_privacy_officer;
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO warehouse_privacy_officer',
                       current_database());
    END IF;
END
$$;
"""
_SCHEMA_LOCK = 8_150_015  # an advisory lock of the keystore database


class MasterKeyMismatch(SettingsError):
    """The keystore's keys are wrapped by another master key than the one given."""


def url_beside(warehouse_url: str) -> str:
    """The default keystore: `<warehouse database>_keystore` on the warehouse's server."""
    params = conninfo_to_dict(warehouse_url)
    dbname = params.get("dbname") or params.get("user") or getpass.getuser()
    return make_conninfo(warehouse_url, dbname=f"{dbname}{SUFFIX}")


def keystore_url(configured: str | None, warehouse_url: str) -> str:
    """WAREHOUSE_KEYSTORE_URL when set, else the database beside the warehouse's."""
    return configured or url_beside(warehouse_url)


def beside(warehouse: psycopg.Connection, master: MasterKey) -> Keystore:
    """The keystore beside the database `warehouse` is connected to."""
    url = make_conninfo(warehouse.info.dsn, password=warehouse.info.password)
    return Keystore.open(url_beside(url), master, url)


class Keystore:
    """A connection to the keystore (autocommit: a key created or destroyed is so at once)."""

    def __init__(self, conn: psycopg.Connection, master: MasterKey, url: str = "") -> None:
        self._conn = conn
        self.master = master
        self._url = url

    @property
    def conn(self) -> psycopg.Connection:
        """The connection, opened again when the server dropped it (a restart mid-run)."""
        if self._url and (self._conn.closed or self._conn.broken):
            self._conn.close()
            self._conn = connect(self._url, autocommit=True)
        return self._conn

    @classmethod
    def open(
        cls, url: str, master: MasterKey, warehouse_url: str | None = None, check: bool = True
    ) -> Keystore:
        """Connect, creating the keystore beside the warehouse (`warehouse_url`) when it is the
        default one and missing, and its tables when they are missing.

        Raises:
            MasterKeyMismatch: its keys are wrapped by another master key (unless not `check`).
        """
        if warehouse_url is not None and url == url_beside(warehouse_url):
            _create_database(warehouse_url, conninfo_to_dict(url)["dbname"])
        conn = connect(url, autocommit=True)
        try:
            _create_schema(conn, master)
            keystore = cls(conn, master, url)
            if check:
                keystore.check_master_key()
        except BaseException:
            conn.close()
            raise
        return keystore

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Keystore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fingerprint(self) -> str:
        """The fingerprint of the master key the keystore's keys are wrapped by."""
        return self.conn.execute("SELECT fingerprint FROM keystore.master_key").fetchone()[0]

    def check_master_key(self) -> None:
        """Raise MasterKeyMismatch unless the keys are wrapped by this master key."""
        expected = self.fingerprint()
        if expected != self.master.fingerprint:
            raise MasterKeyMismatch(
                f"the keystore's data keys are wrapped by the master key with fingerprint "
                f"{expected}, but WAREHOUSE_MASTER_KEY has fingerprint "
                f"{self.master.fingerprint} (rotated with `warehouse rotate-master-key`? set "
                "WAREHOUSE_MASTER_KEY to the new key)"
            )

    def customer_keys(self, customer_keys: Collection[str]) -> dict[str, bytes]:
        """The data keys of those of `customer_keys` that have one, in one query."""
        rows = self.conn.execute(
            "SELECT customer_key, wrapped FROM keystore.customer_keys WHERE customer_key = ANY(%s)",
            (list(customer_keys),),
        )
        return {key: self.master.unwrap(wrapped, CUSTOMER) for key, wrapped in rows}

    def create_customer_keys(self, customer_keys: Collection[str]) -> dict[str, bytes]:
        """The data keys of `customer_keys`, creating those that are missing, in bulk.

        Safe under concurrent loads: a key another load created meanwhile is kept and read back.
        """
        found = self.customer_keys(customer_keys)
        missing = sorted(set(customer_keys) - found.keys())
        if missing:
            self._insert(
                "keystore.customer_keys (customer_key, wrapped)",
                missing,
                [self.master.wrap(crypto.new_data_key(), CUSTOMER) for _ in missing],
                "text",
            )
            found.update(self.customer_keys(missing))
        return found

    def copy_customer_keys(self, new_names: dict[str, str]) -> None:
        """Give each key named by a key of `new_names` also the name it maps to (a rotation of
        the pseudonym key), in one statement."""
        old, new = zip(*new_names.items(), strict=True) if new_names else ((), ())
        self.conn.execute(
            """
            INSERT INTO keystore.customer_keys (customer_key, wrapped)
            SELECT m.new, k.wrapped
            FROM unnest(%s::text[], %s::text[]) AS m (old, new)
            JOIN keystore.customer_keys k ON k.customer_key = m.old
            ON CONFLICT DO NOTHING
            """,
            (list(old), list(new)),
        )

    def destroy_customer_keys(self, customer_keys: Collection[str]) -> int:
        """Delete the data keys of `customer_keys`; return how many there were."""
        return self.conn.execute(
            "DELETE FROM keystore.customer_keys WHERE customer_key = ANY(%s)",
            (list(customer_keys),),
        ).rowcount

    def quarantine_key(self, day: date, create: bool = False) -> bytes | None:
        """The key of the lines quarantined on `day` (None: destroyed, or never made)."""
        if create:
            self._insert(
                "keystore.quarantine_keys (day, wrapped)",
                [day],
                [self.master.wrap(crypto.new_data_key(), QUARANTINE_DAY)],
                "date",
            )
        row = self.conn.execute(
            "SELECT wrapped FROM keystore.quarantine_keys WHERE day = %s", (day,)
        ).fetchone()
        return None if row is None else self.master.unwrap(row[0], QUARANTINE_DAY)

    def destroy_quarantine_keys(self, before: date) -> list[date]:
        """Delete the keys of the days before `before`; return those days."""
        rows = self.conn.execute(
            "DELETE FROM keystore.quarantine_keys WHERE day < %s RETURNING day", (before,)
        )
        return sorted(row[0] for row in rows)

    def rewrap(self, new_master: MasterKey) -> dict[str, int]:
        """Wrap every data key by `new_master` instead, in one transaction; return keys
        re-wrapped per table. The data they encrypt is not touched."""
        counts = {}
        with self.conn.transaction():
            self.conn.execute(
                "LOCK TABLE keystore.master_key, keystore.customer_keys, keystore.quarantine_keys"
            )
            self.check_master_key()
            for table, column, purpose in (
                ("keystore.customer_keys", "customer_key", CUSTOMER),
                ("keystore.quarantine_keys", "day", QUARANTINE_DAY),
            ):
                rows = self.conn.execute(f"SELECT {column}, wrapped FROM {table}").fetchall()
                rewrapped = [
                    (name, new_master.wrap(self.master.unwrap(wrapped, purpose), purpose))
                    for name, wrapped in rows
                ]
                with self.conn.cursor() as cursor:
                    cursor.executemany(
                        f"UPDATE {table} SET wrapped = %s WHERE {column} = %s",
                        [(wrapped, name) for name, wrapped in rewrapped],
                    )
                counts[table] = len(rewrapped)
            self.conn.execute(
                "UPDATE keystore.master_key SET fingerprint = %s, recorded_at = now()",
                (new_master.fingerprint,),
            )
        self.master = new_master
        return counts

    def _insert(
        self, target: str, names: list[object], wrapped: list[bytes], name_type: str
    ) -> None:
        # Only while the keys are wrapped by this master key: a load that started before a
        # rotation must not add keys the new master key cannot unwrap.
        inserted = self.conn.execute(
            f"""
            INSERT INTO {target}
            SELECT n, w FROM unnest(%s::{name_type}[], %s::bytea[]) AS k (n, w)
            WHERE (SELECT fingerprint FROM keystore.master_key) = %s
            ON CONFLICT DO NOTHING
            """,
            (names, wrapped, self.master.fingerprint),
        )
        if inserted.rowcount == 0 and names:
            self.check_master_key()


class KeyRing:
    """The data keys a load (or a command) has unwrapped, ready to encrypt and decrypt with."""

    def __init__(self, keystore: Keystore) -> None:
        self.keystore = keystore
        self._customers: dict[str, DataCipher] = {}
        self._days: dict[date, DataCipher | None] = {}

    def customers(
        self, customer_keys: Iterable[str], create: bool = False
    ) -> dict[str, DataCipher]:
        """Ciphers of `customer_keys` (with `create`, every one, made where missing; without,
        those that have a key)."""
        wanted = set(customer_keys)
        missing = wanted - self._customers.keys()
        if missing:
            fetch = self.keystore.create_customer_keys if create else self.keystore.customer_keys
            self._customers.update((k, DataCipher.of(v)) for k, v in fetch(missing).items())
        return {k: self._customers[k] for k in wanted if k in self._customers}

    def quarantine_day(self, day: date, create: bool = False) -> DataCipher | None:
        """The cipher of the lines quarantined on `day`, None when its key is destroyed."""
        if day not in self._days or (create and self._days[day] is None):
            key = self.keystore.quarantine_key(day, create)
            self._days[day] = None if key is None else DataCipher.of(key)
        return self._days[day]


def _create_database(warehouse_url: str, dbname: str) -> None:
    with connect(warehouse_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            return
        # created meanwhile by another process: as good
        with contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateDatabase):
            conn.execute(f'CREATE DATABASE "{dbname}"')


def _create_schema(conn: psycopg.Connection, master: MasterKey) -> None:
    """The keystore's tables, when missing, with the master key that will wrap its keys."""
    if _has_schema(conn):
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        if not _has_schema(conn):
            conn.execute(_SCHEMA)
            conn.execute(
                "INSERT INTO keystore.master_key (fingerprint) VALUES (%s)", (master.fingerprint,)
            )


def _has_schema(conn: psycopg.Connection) -> bool:
    # pg_namespace itself, read after the lock: to_regclass may answer from a cache that has not
    # seen the schema another process just created
    return bool(conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'keystore'").fetchone())
