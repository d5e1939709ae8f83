"""The loader killed (SIGKILL) at random moments of a load of many files, then run again: the
warehouse ends equal to one clean run, with every file loaded exactly once.

The fast variant makes 20 kills; the slow one RELIABILITY_ITERATIONS (default 200) kills over a
bigger landing zone. RELIABILITY_SEED replays a sequence of kill points.
"""

import os
import random
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from etl.settings import PROJECT_DIR
from etl.warehouse.migrations import migrate
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, load, table_checksums

KILLS_PER_DATABASE = 4


def _start_loader(url, landing, home):
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY.decode(),
        "WAREHOUSE_HOME": str(home),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "etl.cli", "run", "--raw-data", str(landing)],
        cwd=PROJECT_DIR,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finish(loader):
    _, stderr = loader.communicate(timeout=300)
    assert loader.returncode == 0, stderr.decode()[-3000:]


def _in_transaction(admin, dbname):
    """Whether a loader session of the database is inside a transaction right now."""
    return admin.execute(
        """
        SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                       WHERE datname = %s AND application_name = 'retail-warehouse'
                         AND xact_start IS NOT NULL)
        """,
        (dbname,),
    ).fetchone()[0]


def _session_started(admin, dbname):
    return admin.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = %s "
        "AND application_name = 'retail-warehouse')",
        (dbname,),
    ).fetchone()[0]


def _files_loaded(admin):
    return admin.execute("SELECT count(*) FROM ops.load_log").fetchone()[0]


def _kill_point(rng, admin, dbname, seconds_per_file, files_left, aimed):
    """Wait for a moment of the loader's life. An aimed kill waits until a loader session is
    inside a transaction (a file half loaded), so that such kills are made however the timing
    falls; otherwise a quarter of the time anywhere from its start (imports, connecting,
    migrations), else anywhere in what is left of its loads."""
    if aimed:
        deadline = time.monotonic() + 30
        while not _in_transaction(admin, dbname) and time.monotonic() < deadline:
            time.sleep(0.002)
        return
    if rng.random() < 0.25:
        time.sleep(rng.uniform(0, 1.0))
        return
    # Loads are under way once a file is logged: the loader's worker processes (--workers, one
    # per core) take a second or two to start, a gap no file is in.
    logged = _files_loaded(admin)
    deadline = time.monotonic() + 30
    while (
        not _session_started(admin, dbname) or (files_left and _files_loaded(admin) == logged)
    ) and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0, seconds_per_file * files_left))


def _kill_and_rerun(new_database, landing, home, kills, seed):
    rng = random.Random(seed)
    clean_url = new_database()
    started = time.monotonic()
    assert load(clean_url, landing).ok
    files = {path.relative_to(landing).as_posix() for path in landing.rglob("*.json*")}
    seconds_per_file = (time.monotonic() - started) / len(files)
    clean = table_checksums(clean_url)

    made = mid_transaction = 0
    while made < kills:
        url = new_database()
        dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        with psycopg.connect(url, autocommit=True) as admin:
            migrate(admin)  # so that progress can be read; runs migrate again, as a no-op
            for _ in range(KILLS_PER_DATABASE):
                loader = _start_loader(url, landing, home)
                _kill_point(
                    rng,
                    admin,
                    dbname,
                    seconds_per_file,
                    len(files) - _files_loaded(admin),
                    aimed=made % 2 == 0,
                )
                if loader.poll() is not None:
                    break  # it finished first: the warehouse is complete
                mid_transaction += _in_transaction(admin, dbname)
                loader.send_signal(signal.SIGKILL)
                loader.wait()
                made += 1
            _finish(_start_loader(url, landing, home))
            assert table_checksums(url) == clean, f"seed {seed}"
            logged = admin.execute(
                "SELECT source_file, status, count(*) FROM ops.load_log GROUP BY 1, 2"
            ).fetchall()
            assert sorted(logged) == sorted((file, "loaded", 1) for file in files), f"seed {seed}"
    print(f"{made} kills, {mid_transaction} inside a file's transaction")
    # the kills hit files mid-transaction, not only the gaps between them
    assert mid_transaction >= kills // 3, f"only {mid_transaction} of {made} kills mid-file"


def _seed():
    return int(os.environ.get("RELIABILITY_SEED", random.randrange(1 << 30)))


def test_killed_loader_leaves_nothing_half_done(new_database, tmp_path):
    landing = tmp_path / "landing"
    lz.populate(landing, days=2, hours=4, transactions_per_file=400)
    seed = _seed()
    print(f"RELIABILITY_SEED={seed}")
    _kill_and_rerun(new_database, landing, tmp_path, kills=20, seed=seed)


@pytest.mark.slow
def test_killed_loader_leaves_nothing_half_done_many_times(new_database, tmp_path):
    landing = tmp_path / "landing"
    lz.populate(landing, days=3, hours=8, transactions_per_file=600, seed=1)
    seed = _seed()
    print(f"RELIABILITY_SEED={seed}")
    kills = int(os.environ.get("RELIABILITY_ITERATIONS", 200))
    _kill_and_rerun(new_database, landing, tmp_path, kills=kills, seed=seed)
