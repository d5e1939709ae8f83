"""Apply sql-scripts/: each numbered migration once, in order, then every changed definition.

Numbered scripts (`NNN_name.sql`) hold tables and everything stored with them (schemas, domains,
indexes, constraints, roles, grants on tables). They are forward-only: each applies once and is
recorded with its checksum in ops.schema_migrations, and a script that changed after it was
applied is refused. Definitions (`definitions/NNN_schema.object.sql`: functions, views, triggers
and the grants on them) are applied again, in the order of their names, whenever their content
changes, and all of them after any numbered script (which may have dropped what they define);
each is recorded with its checksum in ops.schema_definitions. Everything applies in one
transaction, under a lock.

The baseline (rebaselined.txt) names the scripts that changed once on purpose, when their
definitions moved out: a warehouse that applied one as it was is accepted with it as it is now.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from etl.settings import SQL_SCRIPTS_DIR
from etl.warehouse import locks

log = logging.getLogger(__name__)

_SCRIPT_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_DEFINITION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.[a-z0-9_]+\.sql$")
DEFINITIONS = "definitions"
# Each numbered script's checksum before its definitions moved out, and after.
BASELINE = "rebaselined.txt"


# The tables that record what was applied.
RECORDS = {
    "ops.schema_migrations": """
        CREATE TABLE ops.schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
    """,
    "ops.schema_definitions": """
        CREATE TABLE ops.schema_definitions (
            name       text PRIMARY KEY,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
    """,
}


class MigrationError(RuntimeError):
    """The database and sql-scripts/ disagree about what has been applied."""


def _checksum(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return _checksum(self.sql)


@dataclass(frozen=True)
class Definition:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return _checksum(self.sql)


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


def definitions(directory: Path = SQL_SCRIPTS_DIR) -> list[Definition]:
    """The definitions in `directory`/definitions/, in the order they apply (by their number)."""
    found = []
    for path in sorted((directory / DEFINITIONS).glob("*.sql")):
        if not _DEFINITION_NAME.match(path.name):
            raise MigrationError(f"{path} is not named NNN_schema.object.sql")
        found.append(Definition(path.name, path.read_text()))
    numbers = [d.name[:3] for d in found]
    if len(numbers) != len(set(numbers)):
        raise MigrationError(f"two definitions in {directory} share a number: {numbers}")
    return found


@dataclass(frozen=True)
class Rebaselined:
    """A numbered script that changed once on purpose: a warehouse that applied it as it was
    `before` is as the script with checksum `after` makes it."""

    before: str
    after: str


def baseline(directory: Path = SQL_SCRIPTS_DIR) -> dict[str, Rebaselined]:
    """The scripts of the baseline in `directory`, by name: `name before after` a line."""
    path = directory / BASELINE
    if not path.exists():
        return {}
    rows = [line.split() for line in path.read_text().splitlines()]
    return {row[0]: Rebaselined(*row[1:]) for row in rows if row and not row[0].startswith("#")}


def migrate(conn: psycopg.Connection, directory: Path = SQL_SCRIPTS_DIR) -> list[str]:
    """Apply every migration not yet recorded, then every definition that is new or changed (all
    of them when a migration was applied); return the names applied (empty when up to date).

    Everything applies in one transaction with its records, under a lock, so a failing script
    leaves the database as it was and two processes starting at once apply each script once.
    """
    migrations, current_definitions = available(directory), definitions(directory)
    with conn.transaction():
        locks.lock_migrations(conn)
        _create_records(conn)
        recorded = dict(conn.execute("SELECT version, checksum FROM ops.schema_migrations"))
        pending = _pending(migrations, recorded, baseline(directory))
        for migration in pending:
            log.info("applying %s", migration.name)
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO ops.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
        applied = _apply_definitions(conn, current_definitions, every_one=bool(pending))
    return [m.name for m in pending] + applied


def _create_records(conn: psycopg.Connection) -> None:
    """Create the records of what was applied where they are missing: both in a new database,
    ops.schema_definitions also in a warehouse older than the definitions. An up-to-date
    warehouse needs nothing created, so roles that may not create schemas (the loader, the
    privacy officer) run against it."""
    for table, definition in RECORDS.items():
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
            conn.execute("CREATE SCHEMA IF NOT EXISTS ops")
            conn.execute(definition)


def _pending(
    migrations: list[Migration], recorded: dict[int, str], baselined: dict[str, Rebaselined]
) -> list[Migration]:
    """The migrations not yet recorded. Refuse one that changed after it was applied (but for the
    one change the baseline names), and a warehouse that recorded some migrations but not every
    script of the baseline."""
    for migration in migrations:
        if migration.version not in recorded or recorded[migration.version] == migration.checksum:
            continue
        rebaselined = baselined.get(migration.name)
        if rebaselined != Rebaselined(recorded[migration.version], migration.checksum):
            raise MigrationError(
                f"{migration.name} changed after it was applied; add a new script instead"
            )
    # The baselined scripts no longer hold the steps that moved a warehouse's rows into the
    # tables they make: applied to a warehouse holding rows, they would lose them.
    missing = sorted(name for name in baselined if int(name[:3]) not in recorded)
    if recorded and missing:
        raise MigrationError(
            f"this warehouse has migrations recorded but not {', '.join(missing)}, which no"
            f" longer move the rows of an older warehouse (see {BASELINE}): migrate it first"
            " with the release named there"
        )
    return [m for m in migrations if m.version not in recorded]


def _apply_definitions(
    conn: psycopg.Connection, current: list[Definition], every_one: bool
) -> list[str]:
    """Apply the definitions that are new or changed (with `every_one`, all of them), in order,
    and record them; forget the records of definitions no longer there. Return the names
    applied."""
    recorded = dict(conn.execute("SELECT name, checksum FROM ops.schema_definitions"))
    applied = []
    for definition in current:
        if not every_one and recorded.get(definition.name) == definition.checksum:
            continue
        log.info("applying %s/%s", DEFINITIONS, definition.name)
        conn.execute(definition.sql)
        conn.execute(
            """
            INSERT INTO ops.schema_definitions (name, checksum) VALUES (%s, %s)
            ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()
            """,
            (definition.name, definition.checksum),
        )
        applied.append(f"{DEFINITIONS}/{definition.name}")
    gone = sorted(set(recorded) - {d.name for d in current})
    if gone:
        conn.execute("DELETE FROM ops.schema_definitions WHERE name = ANY (%s)", (gone,))
    return applied
