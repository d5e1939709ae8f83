"""Batches of files in one transaction: every file keeps its own load, counts and place in the
rules, and a bad file still never stops the others."""

import gzip
from datetime import date
from pathlib import Path

import psycopg
import pytest

from etl.datasets import dataset
from etl.loading import staging
from etl.loading.file_load import batches, load_files
from etl.source import landing
from etl.warehouse import monthly_partitions
from etl.warehouse.migrations import migrate
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, load, order_free_checksums, table_checksums

A, B, C = (f"00000000-0000-4000-8000-00000000000{n}" for n in "abc")


def _drops(root: Path, name: str) -> list[landing.LandingFile]:
    return landing.discover(root, (name,))


def _logged(conn: psycopg.Connection) -> dict[str, tuple]:
    return {
        row[0].split("/", 2)[1]: row[1:]
        for row in conn.execute(
            """
            SELECT source_file, status, records_read, records_loaded, records_duplicate,
                   records_quarantined
            FROM ops.load_log ORDER BY load_id
            """
        )
    }


def _load_as_one_batch(url: str, root: Path, name: str) -> list:
    files = _drops(root, name)
    with psycopg.connect(url, autocommit=True) as conn:
        return load_files(conn, dataset(name), files, TEST_KEY)


def test_each_file_of_a_batch_is_logged_with_its_own_counts_and_the_earliest_place_wins(
    tmp_path, database_url, conn
):
    lz.write(tmp_path, "transactions", [lz.transaction(A), lz.transaction(B)], hour=1)
    lz.write(tmp_path, "transactions", [lz.transaction(A, "000002"), lz.transaction(C)], hour=2)
    lz.write(tmp_path, "transactions", [b'{"broken', lz.transaction(C, "000003")], hour=3)
    loads = _load_as_one_batch(database_url, tmp_path, "transactions")
    assert [(f.status, f.read, f.loaded, f.duplicate, f.quarantined) for f in loads] == [
        ("loaded", 2, 2, 0, 0),
        ("loaded", 2, 1, 1, 0),
        ("loaded", 2, 0, 1, 1),
    ]
    assert _logged(conn) == {
        "hour=01": ("loaded", 2, 2, 0, 0),
        "hour=02": ("loaded", 2, 1, 1, 0),
        "hour=03": ("loaded", 2, 0, 1, 1),
    }
    stored = conn.execute(
        "SELECT transaction_id::text, source_file FROM warehouse.transaction_ids ORDER BY 1"
    ).fetchall()
    assert [(id_, path.split("/")[1]) for id_, path in stored] == [
        (A, "hour=01"),
        (B, "hour=01"),
        (C, "hour=02"),
    ]
    quarantined = conn.execute("SELECT source_file, line_number FROM ops.quarantine").fetchall()
    assert [(path.split("/")[1], line) for path, line in quarantined] == [("hour=03", 1)]


def test_a_batch_gives_the_warehouse_that_files_loaded_one_by_one_give(
    tmp_path, new_database, database_url
):
    lz.populate(tmp_path, days=2, hours=4, transactions_per_file=50)
    one_by_one = new_database()
    with psycopg.connect(one_by_one, autocommit=True) as conn:
        migrate(conn)
        for name in landing.DATASETS:
            for landing_file in _drops(tmp_path, name):
                load_files(conn, dataset(name), [landing_file], TEST_KEY)
    for name in landing.DATASETS:
        _load_as_one_batch(database_url, tmp_path, name)
    assert order_free_checksums(database_url) == order_free_checksums(one_by_one)


def test_customers_of_a_batch_keep_the_newest_record(tmp_path, database_url, conn):
    lz.write(tmp_path, "customers", [lz.customer("000001", city="Old", last_change="2020-01-01")])
    lz.write(
        tmp_path,
        "customers",
        [lz.customer("000001", city="New", last_change="2020-01-02")],
        hour=1,
    )
    lz.write(
        tmp_path,
        "customers",
        [lz.customer("000001", city="Older", last_change="2019-12-01")],
        hour=2,
    )
    loads = _load_as_one_batch(database_url, tmp_path, "customers")
    assert [(f.loaded, f.duplicate) for f in loads] == [(0, 1), (1, 0), (0, 1)]
    assert conn.execute("SELECT city, source_file FROM warehouse.customers").fetchone() == (
        "New",
        "date=2020-01-01/hour=01/customers.json.gz",
    )


@pytest.mark.parametrize("rows_per_copy", [10_000, 3], ids=["still buffered", "sent already"])
def test_an_unreadable_file_is_rejected_and_the_rest_of_its_batch_loads(
    tmp_path, database_url, conn, monkeypatch, rows_per_copy
):
    """The truncated file's rows are taken back whether they were still in the buffer or had
    been sent to the server already."""
    monkeypatch.setattr(staging, "BATCH_ROWS", rows_per_copy)
    lz.write(tmp_path, "transactions", [lz.transaction(A)], hour=1)
    broken = lz.write(
        tmp_path,
        "transactions",
        [lz.transaction(f"00000000-0000-4000-8000-{n:012d}") for n in range(1000)],
        hour=2,
    )
    whole = broken.read_bytes()
    broken.write_bytes(whole[: len(whole) // 2])
    lz.write(tmp_path, "transactions", [lz.transaction(B)], hour=3)
    loads = _load_as_one_batch(database_url, tmp_path, "transactions")
    assert [f.status for f in loads] == ["loaded", "rejected", "loaded"]
    rejected = loads[1]
    assert 0 < rejected.read == rejected.quarantined < 1000
    stored = conn.execute("SELECT transaction_id::text FROM warehouse.transactions ORDER BY 1")
    assert [row[0] for row in stored] == [A, B]
    quarantined = conn.execute(
        "SELECT count(*), count(DISTINCT source_file) FROM ops.quarantine"
    ).fetchone()
    assert quarantined == (rejected.quarantined, 1)


def test_unchanged_files_are_skipped_and_changed_ones_replaced_within_a_batch(
    tmp_path, new_database, database_url, conn
):
    lz.write(tmp_path, "transactions", [lz.transaction(A)], hour=1)
    lz.write(tmp_path, "transactions", [lz.transaction(B)], hour=2)
    _load_as_one_batch(database_url, tmp_path, "transactions")
    lz.write(tmp_path, "transactions", [lz.transaction(C)], hour=2)  # changed
    lz.write(tmp_path, "transactions", [lz.transaction(B)], hour=3)  # new: B moved here
    loads = _load_as_one_batch(database_url, tmp_path, "transactions")
    assert [f.status for f in loads] == ["unchanged", "loaded", "loaded"]
    clean = new_database()
    _load_fresh(clean, tmp_path)
    assert table_checksums(database_url) == table_checksums(clean)


def _load_fresh(url: str, root: Path) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    _load_as_one_batch(url, root, "transactions")


def test_a_database_error_in_a_batch_fails_only_the_file_at_fault(tmp_path, database_url, conn):
    """A fault no validation catches (here a trigger that refuses one transaction): the batch
    rolls back, its files load one by one, and only the file at fault is logged as failed."""
    conn.execute("CREATE SCHEMA faults")
    conn.execute(
        f"""
        CREATE FUNCTION faults.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.transaction_id = '{B}' THEN RAISE EXCEPTION 'disk on fire'; END IF;
            RETURN NEW;
        END $$
        """
    )
    monthly_partitions.ensure(conn, [date(2020, 1, 1)])
    conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON warehouse.transaction_ids "
        "FOR EACH ROW EXECUTE FUNCTION faults.refuse()"
    )
    for hour, transaction_id in enumerate((A, B, C), start=1):
        lz.write(tmp_path, "transactions", [lz.transaction(transaction_id)], hour=hour)
    summary = load(database_url, tmp_path, datasets=["transactions"])
    assert summary.failures == [
        "date=2020-01-01/hour=02/transactions.json.gz: RaiseException: disk on fire"
    ]
    assert summary.datasets["transactions"].files == {"loaded": 2, "failed": 1}
    stored = conn.execute("SELECT transaction_id::text FROM warehouse.transactions ORDER BY 1")
    assert [row[0] for row in stored] == [A, C]
    statuses = conn.execute(
        "SELECT split_part(source_file, '/', 2), status FROM ops.load_log ORDER BY 1"
    ).fetchall()
    assert statuses == [("hour=01", "loaded"), ("hour=02", "failed"), ("hour=03", "loaded")]


def test_batches_are_bounded_by_bytes_and_files_and_keep_the_order(tmp_path):
    for hour in range(6):
        path = lz.write(tmp_path, "transactions", [], hour=hour)
        path.write_bytes(gzip.compress(b"", mtime=0) + b"\0" * (100 if hour != 3 else 1000))
    files = _drops(tmp_path, "transactions")
    by_bytes = list(batches(files, max_bytes=300, max_files=10))
    assert [len(batch) for batch in by_bytes] == [2, 1, 1, 2]  # the large file alone
    assert [f for batch in by_bytes for f in batch] == files
    assert [len(batch) for batch in batches(files, max_bytes=10**6, max_files=4)] == [4, 2]
