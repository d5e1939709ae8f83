"""Loaders running at the same time: the schedule and a manual backfill over the same partitions,
and an erasure arriving while a load runs. Nothing is loaded twice, nothing deadlocks, and an
erased person never comes back.

RELIABILITY_ITERATIONS sets the rounds of the slow variants (default 20).
"""

import logging
import os
import random
import threading
import time
from datetime import date

import psycopg
import pytest

from etl.datasets import dataset
from etl.loading.file_load import load_files
from etl.privacy.pseudonym import customer_key
from etl.source import landing as landing_zone
from etl.warehouse import monthly_partitions
from etl.warehouse.migrations import migrate
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, load, order_free_checksums, table_checksums

PERSON = "000777"


class _Together:
    """Runs callables in threads released at the same moment; returns their results."""

    def __init__(self, *work):
        self._work = work
        self._barrier = threading.Barrier(len(work))
        self.results = [None] * len(work)
        self.errors = []

    def _run(self, index, delay):
        self._barrier.wait()
        if delay:
            threading.Event().wait(delay)
        try:
            self.results[index] = self._work[index]()
        except Exception as error:  # reported by the test
            self.errors.append(error)

    def run(self, delays=None):
        threads = [
            threading.Thread(target=self._run, args=(i, (delays or [0] * len(self._work))[i]))
            for i in range(len(self._work))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a loader is stuck: deadlock?"
        assert not self.errors, self.errors
        return self.results


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    lz.populate(root, days=2, hours=4, transactions_per_file=300)
    return root


@pytest.fixture(scope="module")
def clean(landing, new_database):
    url = new_database()
    assert load(url, landing).ok
    return table_checksums(url)


def _load_backwards(url, landing):
    """A backfill going through the files newest first, file by file."""
    statuses = {}
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)  # at the same time as the other run's: one of them waits
        for landing_file in sorted(landing_zone.discover(landing), reverse=True):
            [loaded] = load_files(conn, dataset(landing_file.dataset), [landing_file], TEST_KEY)
            statuses[landing_file.relative_path] = loaded.status
    return statuses


def _statuses(summary):
    return sum(
        (s.files for s in summary.datasets.values()),
        start=type(summary.datasets["products"].files)(),
    )


def _each_file_loaded_once(url, landing):
    files = {f.relative_path for f in landing_zone.discover(landing)}
    with psycopg.connect(url) as conn:
        logged = conn.execute(
            "SELECT source_file, status, count(*) FROM ops.load_log GROUP BY 1, 2"
        ).fetchall()
    assert sorted(logged) == sorted((file, "loaded", 1) for file in files)
    return len(files)


def test_two_runs_started_together_load_each_file_once(new_database, landing, clean):
    url = new_database()
    schedule, backfill = _Together(lambda: load(url, landing), lambda: load(url, landing)).run()
    assert schedule.ok and backfill.ok
    files = _each_file_loaded_once(url, landing)
    first, second = _statuses(schedule), _statuses(backfill)
    # each file was loaded by one run; the other waited for it, then found it loaded
    assert first["loaded"] + second["loaded"] == files
    assert first["unchanged"] + second["unchanged"] == files
    assert table_checksums(url) == clean


def _forwards_meets_backwards(url, landing, clean):
    schedule, backwards = _Together(
        lambda: load(url, landing), lambda: _load_backwards(url, landing)
    ).run()
    assert schedule.ok
    files = _each_file_loaded_once(url, landing)
    assert _statuses(schedule)["loaded"] + list(backwards.values()).count("loaded") == files
    # files loaded in another order: the same warehouse
    assert order_free_checksums(url) == {
        k: v for k, v in clean.items() if k != "privacy.erasure_log"
    }


def test_a_backfill_going_backwards_meets_the_schedule_going_forwards(new_database, landing, clean):
    # Before customers loads took turns from their start, about one round in three deadlocked
    # (a pending erasure matched: shared erasure lock held, exclusive wanted).
    for _ in range(3):
        _forwards_meets_backwards(new_database(), landing, clean)


def _erasure_race(new_database, tmp_path, rng, person_known_before):
    """A customers file and a transactions file with PERSON load while PERSON's erasure
    request loads; returns the database URL."""
    root = tmp_path / f"race{rng.random()}"
    person = lz.customer(PERSON, last_change="2020-01-02")
    if person_known_before:
        lz.write(root, "customers", [lz.customer(PERSON)], hour=0)
    crowd = [lz.customer(f"{n:06d}") for n in range(1, 1500)]
    crowd.insert(rng.randrange(len(crowd)), person)
    lz.write(root, "customers", crowd, hour=1)
    sales = [
        lz.transaction(f"00000000-0000-4000-8000-{n:012d}", rng.choice([PERSON, "000001"]))
        for n in range(1, 400)
    ]
    lz.write(root, "transactions", sales, hour=1)
    request = {"customer-id": PERSON, "email": f"person{PERSON}@example.com"}
    lz.write(root, "erasure-requests", [request], hour=1)
    url = new_database()
    if person_known_before:
        assert load(url, root, datasets=["customers"]).ok
        (root / "date=2020-01-01" / "hour=00" / "customers.json.gz").unlink()
    loads = _Together(
        lambda: load(url, root, datasets=["customers", "transactions"]),
        lambda: load(url, root, datasets=["erasure-requests"]),
    )
    for summary in loads.run(delays=[rng.uniform(0, 0.3), rng.uniform(0, 0.3)]):
        assert summary.ok, summary.render()
    return url


def _assert_erased(url):
    with psycopg.connect(url) as conn:
        key, outcome = conn.execute(
            "SELECT customer_key, outcome FROM privacy.erasure_log"
        ).fetchone()
        assert outcome == "erased"
        assert conn.execute("SELECT customer_id FROM privacy.erased_customers").fetchall() == [
            (PERSON,)
        ]
        for table, condition in [
            ("pii.customers", "customer_id = %(id)s"),
            ("pii.delivery_addresses", "customer_id = %(id)s"),
            ("warehouse.customers", "customer_key = %(key)s"),
            ("ops.quarantine", "%(key)s = ANY(subjects)"),
        ]:
            left = conn.execute(
                f"SELECT count(*) FROM {table} WHERE {condition}", {"id": PERSON, "key": key}
            ).fetchone()[0]
            assert left == 0, f"{table} still holds the erased customer"
        # the sales stay, under the pseudonym
        assert (
            conn.execute(
                "SELECT count(*) FROM warehouse.transactions WHERE customer_key = %s", (key,)
            ).fetchone()[0]
            > 0
        )


def _seed():
    return int(os.environ.get("RELIABILITY_SEED", random.randrange(1 << 30)))


@pytest.mark.parametrize("known", [True, False], ids=["customer-known", "customer-arriving"])
def test_erasure_during_a_load_keeps_the_person_erased(new_database, tmp_path, known):
    seed = _seed()
    print(f"RELIABILITY_SEED={seed}")
    rng = random.Random(seed)
    for _ in range(3):
        _assert_erased(_erasure_race(new_database, tmp_path, rng, known))


@pytest.mark.slow
def test_erasure_during_a_load_keeps_the_person_erased_many_times(new_database, tmp_path):
    seed = _seed()
    print(f"RELIABILITY_SEED={seed}")
    rng = random.Random(seed)
    for round_ in range(int(os.environ.get("RELIABILITY_ITERATIONS", 20))):
        _assert_erased(_erasure_race(new_database, tmp_path, rng, round_ % 2 == 0))


@pytest.mark.slow
def test_forwards_meets_backwards_many_times(new_database, landing, clean):
    for _ in range(int(os.environ.get("RELIABILITY_ITERATIONS", 20))):
        _forwards_meets_backwards(new_database(), landing, clean)


@pytest.mark.slow
def test_two_runs_started_together_many_times(new_database, landing, clean):
    for _ in range(int(os.environ.get("RELIABILITY_ITERATIONS", 20))):
        url = new_database()
        first, second = _Together(
            lambda u=url: load(u, landing), lambda u=url: load(u, landing)
        ).run()
        assert first.ok and second.ok
        _each_file_loaded_once(url, landing)
        assert table_checksums(url) == clean


def _waiting_for_a_lock(url, timeout=30.0):
    """Wait until a session of the database waits for a lock held by another."""
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(int(timeout / 0.05)):
            waiting = conn.execute(
                """
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'
                """
            ).fetchone()[0]
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("no load came to wait for the other")


@pytest.mark.parametrize("first", ["earlier", "later"])
def test_two_files_merging_the_same_new_transaction_at_once_keep_the_earliest(
    new_database, tmp_path, caplog, first
):
    """Transactions files merge in parallel: the one that commits second finds the other's copy
    of their common id after the race, and the copy from the earlier place stays."""
    caplog.set_level(logging.INFO, logger="etl.datasets.transactions")
    shared = "00000000-0000-4000-8000-000000000001"
    earlier = lz.write(tmp_path, "transactions", [lz.transaction(shared, "000001")], hour=1)
    later = lz.write(tmp_path, "transactions", [
        lz.transaction("00000000-0000-4000-8000-000000000002", "000002"),
        lz.transaction(shared, "000003", transaction_time="2020-01-01T02:10:00"),
    ], hour=2)  # fmt: skip
    files = {f.path: f for f in landing_zone.discover(tmp_path)}
    holder_file, waiter_file = (
        (files[earlier], files[later]) if first == "earlier" else (files[later], files[earlier])
    )
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        monthly_partitions.ensure(conn, [date(2020, 1, 1)])
    transactions = dataset("transactions")

    def waiter():
        with psycopg.connect(url, autocommit=True) as conn:
            return load_files(conn, transactions, [waiter_file], TEST_KEY)[0]

    with psycopg.connect(url, autocommit=True) as holder_conn:
        with holder_conn.transaction():  # the holder's load stays uncommitted meanwhile
            [held] = load_files(holder_conn, transactions, [holder_file], TEST_KEY)
            thread_result = {}
            thread = threading.Thread(target=lambda: thread_result.update(load=waiter()))
            thread.start()
            _waiting_for_a_lock(url)
        thread.join(timeout=60)
    assert not thread.is_alive()
    waited = thread_result["load"]
    assert "merging again" in caplog.text

    assert (held.status, waited.status) == ("loaded", "loaded")
    with psycopg.connect(url) as conn:
        stored = conn.execute(
            """
            SELECT t.transaction_id::text, t.customer_key, t.source_file, i.source_file
            FROM warehouse.transactions t JOIN warehouse.transaction_ids i USING (transaction_id)
            ORDER BY 1
            """
        ).fetchall()
        addresses = conn.execute("SELECT count(*) FROM pii.delivery_addresses").fetchone()[0]
    earlier_path, later_path = files[earlier].relative_path, files[later].relative_path
    assert stored == [
        (shared, customer_key("000001", TEST_KEY), earlier_path, earlier_path),
        ("00000000-0000-4000-8000-000000000002", customer_key("000002", TEST_KEY), later_path,
         later_path),
    ]  # fmt: skip
    assert addresses == 2
    # the later file's copy is a duplicate when it merged second, replaced when it merged first
    if first == "earlier":
        assert (waited.loaded, waited.duplicate) == (1, 1)
    else:
        assert (waited.loaded, waited.duplicate) == (1, 0)
