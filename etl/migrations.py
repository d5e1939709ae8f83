"""Apply the numbered DDL scripts in sql-scripts/ once each, in order, and record them."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from etl import locks
from etl.settings import SQL_SCRIPTS_DIR

log = logging.getLogger(__name__)

_SCRIPT_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    """The database and sql-scripts/ disagree about what has been applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available(directory: Path = SQL_SCRIPTS_DIR) -> list[Migration]:
    """The migrations in `directory`, ordered by version; other .sql files are example queries."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _SCRIPT_NAME.match(path.name)
        if match:
            migrations.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in migrations]
    if len(versions) != len(set(versions)):
        raise MigrationError(f"two scripts in {directory} share a version number: {versions}")
    return migrations


def migrate(conn: psycopg.Connection, directory: Path = SQL_SCRIPTS_DIR) -> list[str]:
    """Apply every migration not yet recorded; return the names applied (empty on a second run).

    All pending scripts apply in one transaction with their records, under a lock, so a failing
    script leaves the database as it was and two processes starting at once apply each script once.
    """
    applied_now = []
    with conn.transaction():
        locks.lock_migrations(conn)
        # Only a fresh database needs the bookkeeping created: roles that may not create
        # schemas (the loader, the privacy officer) then run against an up-to-date warehouse.
        if conn.execute("SELECT to_regclass('ops.schema_migrations')").fetchone()[0] is None:
            conn.execute("CREATE SCHEMA IF NOT EXISTS ops")
            conn.execute(
                """
                CREATE TABLE ops.schema_migrations (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
            )
        recorded = dict(conn.execute("SELECT version, checksum FROM ops.schema_migrations"))
        for migration in available(directory):
            if migration.version in recorded:
                if recorded[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"{migration.name} changed after it was applied; add a new script instead"
                    )
                continue
            log.info("applying %s", migration.name)
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO ops.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
            applied_now.append(migration.name)
    return applied_now
