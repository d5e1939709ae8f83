"""Loaders running at the same time: the schedule and a manual backfill over the same partitions,
and an erasure arriving while a load runs. Nothing is loaded twice, nothing deadlocks, and an
erased person never comes back.

RELIABILITY_ITERATIONS sets the rounds of the slow variants (default 20).
"""

import os
import random
import threading

import psycopg
import pytest

from etl import landing as landing_zone
from etl.dataset import LoadContext
from etl.file_load import load_file
from etl.migrations import migrate
from etl.runner import dataset
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
            context = LoadContext(landing_file, TEST_KEY)
            statuses[landing_file.relative_path] = load_file(
                conn, dataset(landing_file.dataset), context
            ).status
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
        assert load(url, root, datasets=["customers"], end=None).ok
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
            ("ops.quarantine", "payload LIKE '%%' || %(id)s || '%%'"),
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
