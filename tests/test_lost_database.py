"""The database goes away mid-run: sessions killed, the server restarted or crashed, or stopped
for good. Loads retry with backoff, a run gives up clearly after the bound, and the next run
completes the warehouse as a clean run would have."""

import logging
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from etl import database
from etl.cli import main as warehouse
from etl.loading import retries
from etl.warehouse.migrations import migrate
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, load, table_checksums
from tests.database_server import RestartableServer


@pytest.fixture(scope="module")
def server():
    # not under pytest's tmp dir: the server runs as another user, who must reach its data
    restartable = RestartableServer(Path(tempfile.mkdtemp(prefix="warehouse-restartable-")))
    yield restartable
    restartable.close()


@pytest.fixture
def fresh_database(server):
    """A new, empty database on the restartable server; its URL."""
    name = f"lost_{time.monotonic_ns()}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(server.url, dbname=name)
    with psycopg.connect(url) as conn:
        migrate(conn)
    return url


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    lz.populate(root, days=2, hours=6, transactions_per_file=300)
    return root


@pytest.fixture(scope="module")
def clean(landing, new_database):
    """Table checksums of one clean, uninterrupted run."""
    url = new_database()
    assert load(url, landing).ok
    return table_checksums(url)


@pytest.fixture
def quick_retries(monkeypatch):
    """Retry bounds of seconds rather than a minute, so that giving up is quick to see."""
    monkeypatch.setattr(retries, "LOAD_ATTEMPTS", 3)
    monkeypatch.setattr(retries, "LOAD_RETRY_SECONDS", 4)
    monkeypatch.setattr(database, "CONNECT_RETRY_SECONDS", 2)


class _Run(threading.Thread):
    """A loader running in the background, so that the test can hurt its database meanwhile."""

    def __init__(self, url, landing):
        super().__init__(daemon=True)
        self.url, self.landing, self.summary = url, landing, None

    def run(self):
        self.summary = load(self.url, self.landing)


def _files_logged(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM ops.load_log").fetchone()[0]


def _wait_until(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _loaded_once_each(url, landing):
    files = {path.relative_to(landing).as_posix() for path in landing.rglob("*.json*")}
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT source_file, count(*) FROM ops.load_log WHERE status = 'loaded' GROUP BY 1"
        ).fetchall()
    assert dict(rows) == dict.fromkeys(files, 1)


@pytest.mark.parametrize("mode", ["fast", "immediate"], ids=["restart", "crash-and-recovery"])
def test_server_restarts_mid_run_and_the_run_completes(
    server, fresh_database, landing, clean, mode, caplog
):
    caplog.set_level(logging.WARNING, logger="etl")
    loader = _Run(fresh_database, landing)
    loader.start()
    for restart_after in (3, 9):
        _wait_until(lambda n=restart_after: _files_logged(fresh_database) >= n)
        server.restart(mode)
    loader.join(timeout=120)
    assert loader.summary.ok, loader.summary.render()
    assert "trying again" in caplog.text
    assert table_checksums(fresh_database) == clean
    _loaded_once_each(fresh_database, landing)


def test_sessions_killed_mid_file_are_retried(new_database, landing, clean, caplog):
    caplog.set_level(logging.WARNING, logger="etl")
    url = new_database()
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    # Migrated first: the migrations' one long transaction is not a file's, and killed every
    # 0.15 s it could use up the run's retries before any file is loaded.
    with psycopg.connect(url) as conn:
        migrate(conn)
    loader = _Run(url, landing)
    loader.start()
    killed = 0
    with psycopg.connect(url, autocommit=True) as admin:
        while loader.is_alive() and killed < 6:
            # only a session inside a file's transaction: that is where a loss can hurt
            killed += admin.execute(
                """
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE datname = %s AND application_name = 'retail-warehouse'
                  AND state IN ('active', 'idle in transaction') AND xact_start IS NOT NULL
                """,
                (dbname,),
            ).fetchone()[0]
            time.sleep(0.15)
    loader.join(timeout=120)
    assert killed >= 3
    assert loader.summary.ok, loader.summary.render()
    assert caplog.text.count("terminating connection due to administrator command") >= 3
    assert table_checksums(url) == clean
    _loaded_once_each(url, landing)


def test_database_down_stops_the_run_after_the_bound_and_the_next_run_resumes(
    server, fresh_database, landing, clean, quick_retries
):
    loader = _Run(fresh_database, landing)
    loader.start()
    _wait_until(lambda: _files_logged(fresh_database) >= 4)
    server.stop()
    stopped_at = time.monotonic()
    try:
        loader.join(timeout=60)
        gave_up_after = time.monotonic() - stopped_at
    finally:
        server.restart()
    summary = loader.summary
    assert not summary.ok
    assert summary.aborted.startswith("database unreachable while loading date=2020-01-")
    assert "the next run resumes from there" in summary.aborted
    assert "ABORTED database unreachable" in summary.render()
    # the bound: LOAD_RETRY_SECONDS, plus at most one connect wait and one backoff
    assert gave_up_after < 4 + 2 + 10
    loaded_before = _files_logged(fresh_database)
    assert 4 <= loaded_before < 20

    resumed = load(fresh_database, landing)
    assert resumed.ok, resumed.render()
    assert sum(s.files["unchanged"] for s in resumed.datasets.values()) == loaded_before
    assert table_checksums(fresh_database) == clean
    _loaded_once_each(fresh_database, landing)


def test_unreachable_database_fails_the_command_clearly(
    server, fresh_database, landing, quick_retries, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", fresh_database)
    monkeypatch.setenv("WAREHOUSE_PSEUDONYM_KEY", TEST_KEY.decode())
    server.stop()
    try:
        started = time.monotonic()
        result = CliRunner().invoke(warehouse, ["run", "--raw-data", str(landing)])
        took = time.monotonic() - started
    finally:
        server.restart()
    assert result.exit_code == 2, result.output
    assert "ABORTED cannot reach the database: OperationalError: connection is bad" in result.output
    assert took < 4 + 2 + 10  # LOAD_RETRY_SECONDS, one connect wait, one backoff
