"""The PostgreSQL server of a benchmark run, and a fresh database on it for each measurement."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from etl.database import start_embedded, stop_embedded
from etl.migrations import migrate


class Server:
    """The server given by `url`, or an embedded one in a temporary data directory.

    Use as a context manager: an embedded server is stopped and its directory removed on exit.
    """

    def __init__(self, url: str | None = None) -> None:
        self._given_url = url
        self._home: Path | None = None
        self.admin_url = ""

    def __enter__(self) -> Server:
        if self._given_url:
            self.admin_url = self._given_url
        else:
            self._home = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
            self.admin_url = make_conninfo(start_embedded(self._home), dbname="postgres")
        return self

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
                                   'max_wal_size', 'wal_level')
                    """
                ).fetchall()
            )
            version = conn.execute("SHOW server_version").fetchone()[0]
        host = conninfo_to_dict(self.admin_url).get("host", "")
        return {"kind": self.kind, "version": version, "host": host, **settings}

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
