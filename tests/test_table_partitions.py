"""Monthly partitions of transactions, items, quarantine and the load log: created by the loads
that need them, used by the loads' and the marts' queries, and old months detached or archived.
"""

import csv
import gzip
import io
import logging
import threading
from datetime import date
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from etl.cli import main as warehouse
from etl.inspection import quality
from etl.privacy.erasure_proof import find_residue
from etl.source.landing import Window
from etl.warehouse import monthly_partitions
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, load, settings_for, table_checksums

MONTHS = (date(2020, 1, 1), date(2020, 2, 1), date(2020, 3, 1))
PARENTS = (
    "ops.load_log",
    "ops.quarantine",
    "pii.delivery_addresses",
    "warehouse.transaction_items",
    "warehouse.transactions",
)


def _landing_zone(root: Path) -> Path:
    """Customers, transactions (one sent again a month later, one dated the month before its
    folder) and a broken line, in January, February and March 2020."""
    for n, month in enumerate(MONTHS, start=1):
        day = f"{month:%Y-%m}-15"
        lz.write(root, "customers", [lz.customer(f"{n:06d}")], day, hour=1)
        sales = [
            lz.transaction(
                f"00000000-0000-4000-8000-00000000000{n}",
                f"{n:06d}",
                ((99096, n, "21.00"),),
                transaction_time=f"{day}T02:10:00",
            ),
            # the January transaction, sent again
            lz.transaction(
                "00000000-0000-4000-8000-000000000001",
                "000001",
                ((99096, 1, "21.00"),),
                transaction_time="2020-01-15T02:10:00",
            ),
            b'{"transaction_id": "broken"',
        ]
        lz.write(root, "transactions", sales, day, hour=2)
    # Just before midnight on the last day of February, in March's first folder.
    late = lz.transaction(
        "00000000-0000-4000-8000-000000000009",
        "000002",
        transaction_time="2020-02-29T23:59:30",
    )
    lz.write(root, "transactions", [late], "2020-03-01", hour=0)
    return root


@pytest.fixture
def loaded(database_url, tmp_path) -> str:
    summary = load(database_url, _landing_zone(tmp_path / "raw"))
    assert summary.ok, summary.render()
    return database_url


def _attached(conn) -> dict[tuple[str, date], int]:
    return {
        (p.parent, p.month): p.rows
        for p in monthly_partitions.partitions(conn)
        if p.state == "attached"
    }


def test_loads_create_the_months_they_need_and_rows_land_in_their_month(loaded, conn):
    attached = _attached(conn)
    assert set(attached) == {(parent, month) for parent in PARENTS for month in MONTHS}
    # three transactions in their own months, the late one in February though its folder is
    # in March; the one sent again stored once
    assert attached["warehouse.transactions", MONTHS[0]] == 1
    assert attached["warehouse.transactions", MONTHS[1]] == 2
    assert attached["warehouse.transactions", MONTHS[2]] == 1
    assert attached["warehouse.transaction_items", MONTHS[1]] == 2
    assert attached["ops.quarantine", MONTHS[2]] == 1
    assert attached["ops.load_log", MONTHS[2]] == 3
    assert conn.execute("SELECT count(*) FROM warehouse.transaction_ids").fetchone()[0] == 4
    # the parents hold no row of their own, and nobody may reach a partition but through them
    for parent in PARENTS:
        only = conn.execute(f"SELECT count(*) FROM ONLY {parent}").fetchone()[0]
        assert only == 0
    for role in ("warehouse_loader", "warehouse_analyst", "warehouse_privacy_officer"):
        assert not conn.execute(
            "SELECT has_table_privilege(%s, 'partitions.ops_quarantine_2020_01', 'SELECT')",
            (role,),
        ).fetchone()[0]


def test_the_loads_and_marts_queries_read_one_month(loaded, conn):
    def plan(query: str, *params: object) -> str:
        """The partitions the query read (those pruned while it ran are `never executed`)."""
        rows = conn.execute(
            f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {query}", params
        ).fetchall()
        return "\n".join(row[0] for row in rows if "never executed" not in row[0])

    day = plan("SELECT * FROM marts.transactions_on(ARRAY['2020-02-10'::date])")
    assert "warehouse_transactions_2020_02" in day
    assert "2020_01" not in day and "2020_03" not in day
    checksum = plan(
        "SELECT checksum FROM ops.load_log WHERE source_file = %s AND partition_date = %s",
        "date=2020-02-15/hour=02/transactions.json.gz",
        date(2020, 2, 15),
    )
    assert "ops_load_log_2020_02" in checksum and "2020_01" not in checksum
    items = plan(
        """
        SELECT * FROM warehouse.transaction_items
        WHERE transaction_id = '00000000-0000-4000-8000-000000000002'
          AND transaction_time = '2020-02-15 02:10:00'
        """
    )
    assert "2020_02" in items and "2020_01" not in items and "2020_03" not in items


def test_loading_again_finds_everything_loaded_and_changes_nothing(loaded, tmp_path):
    before = table_checksums(loaded)
    summary = load(loaded, tmp_path / "raw")
    assert set(summary.datasets["transactions"].files) == {"unchanged"}
    summary = load(loaded, tmp_path / "raw", force=True)
    assert summary.ok
    assert table_checksums(loaded) == before


def test_loaders_needing_the_same_new_month_create_it_once(database_url):
    errors, created = [], []

    def create() -> None:
        try:
            with psycopg.connect(database_url) as conn:
                created.append(monthly_partitions.ensure(conn, [date(2021, 6, 1)]))
        except Exception as error:  # collected, the test fails on it
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sum(created) == len(PARENTS)
    with psycopg.connect(database_url) as conn:
        assert monthly_partitions.missing(conn, [date(2021, 6, 1)]) == set()


def test_a_new_month_is_created_while_a_load_merges_the_month_before_without_deadlock(
    database_url,
):
    """At a month boundary one loader creates the new month's partitions while another, in
    the middle of its merge, holds warehouse.transactions and has items still to insert.

    Before 061 the creation of items' partition also locked warehouse.transactions (to copy
    the parent's reference), after items: the merging loader then waited for items, and the
    server ended one of the two with a deadlock."""
    january, february = date(2020, 1, 1), date(2020, 2, 1)
    with psycopg.connect(database_url, autocommit=True) as conn:
        monthly_partitions.ensure(conn, [january])
        conn.execute("SELECT ops.create_partition('warehouse.transactions', %s)", (february,))
    outcome: dict[str, object] = {}

    def create_february() -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                outcome["created"] = monthly_partitions.ensure(conn, [february])
        except Exception as error:  # collected: the test fails on it
            outcome["error"] = error

    with psycopg.connect(database_url) as merging:
        merging.execute(
            """
            INSERT INTO warehouse.transactions (transaction_id, customer_key, transaction_time,
                delivery_city, delivery_country, total_cost, source_file, source_line)
            VALUES ('00000000-0000-4000-8000-000000000001', repeat('a', 64),
                    '2020-01-31 23:50', 'Cork', 'Republic of Ireland', 42, 'f', 1)
            """
        )
        creator = threading.Thread(target=create_february)
        creator.start()
        creator.join(timeout=5)  # done at once, or waiting for the merging loader's locks
        merging.execute(
            """
            INSERT INTO warehouse.transaction_items (transaction_id, transaction_time,
                line_number, sku, quantity, price, total)
            VALUES ('00000000-0000-4000-8000-000000000001', '2020-01-31 23:50', 1, 99096, 2,
                    21, 42)
            """
        )
        merging.commit()
    creator.join(timeout=60)
    assert "error" not in outcome, outcome
    assert outcome["created"] == len(PARENTS) - 1
    with psycopg.connect(database_url) as conn:
        assert monthly_partitions.missing(conn, [january, february]) == set()
        references = conn.execute(
            """
            SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
            WHERE contype = 'f' AND confrelid::regclass::text LIKE '%%transactions_2020_02'
            ORDER BY 1
            """
        ).fetchall()
    assert references == [
        ("partitions.pii_delivery_addresses_2020_02", "partitions.warehouse_transactions_2020_02"),
        ("partitions.warehouse_transaction_items_2020_02",
         "partitions.warehouse_transactions_2020_02"),
    ]  # fmt: skip


def test_a_run_with_workers_across_months_logs_no_deadlock(database_url, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="etl")
    for month in range(1, 7):
        for day in (1, 28):
            lz.write(
                tmp_path,
                "transactions",
                [
                    lz.transaction(
                        f"00000000-0000-4000-8000-{month:02d}{day:02d}{n:08d}",
                        transaction_time=f"2020-{month:02d}-{day:02d}T05:{n % 60:02d}:00",
                    )
                    for n in range(200)
                ],
                f"2020-{month:02d}-{day:02d}",
                hour=5,
            )
    summary = load(database_url, tmp_path, workers=2)
    assert summary.ok, summary.render()
    assert summary.datasets["transactions"].records["loaded"] == 6 * 2 * 200
    assert "deadlock" not in caplog.text.lower()


def test_detach_archives_old_months_and_later_loads_leave_them_out(loaded, tmp_path):
    archive = tmp_path / "archive"
    result = CliRunner().invoke(
        warehouse,
        ["partitions", "detach", "--before", "2020-03", "--archive", str(archive)],
        env={"DATABASE_URL": loaded, "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY.decode()},
    )
    assert result.exit_code == 0, result.output
    assert "8 partitions detached" in result.output
    with psycopg.connect(loaded) as conn:
        attached = _attached(conn)
        assert {month for _, month in attached if _ != "ops.load_log"} == {MONTHS[2]}
        # the load log keeps every month
        assert {m for p, m in attached if p == "ops.load_log"} == set(MONTHS)
        states = {
            (p.parent, p.month): p.state
            for p in monthly_partitions.partitions(conn)
            if p.state != "attached"
        }
    assert states == {
        **{("warehouse.transactions", m): "archived" for m in MONTHS[:2]},
        **{("warehouse.transaction_items", m): "archived" for m in MONTHS[:2]},
        **{("ops.quarantine", m): "dropped" for m in MONTHS[:2]},
        # personal data is never archived
        **{("pii.delivery_addresses", m): "dropped" for m in MONTHS[:2]},
    }
    with gzip.open(archive / "warehouse.transactions_2020-02.csv.gz", "rt") as archived:
        rows = list(csv.DictReader(io.StringIO(archived.read())))
    assert sorted(row["transaction_id"][-1] for row in rows) == ["2", "9"]
    # the old files are known as loaded: nothing of their months comes back
    summary = load(loaded, tmp_path / "raw")
    assert summary.ok
    assert set(summary.datasets["transactions"].files) == {"unchanged"}
    with psycopg.connect(loaded) as conn:
        assert conn.execute("SELECT count(*) FROM warehouse.transactions").fetchone()[0] == 1
        env = {"DATABASE_URL": loaded, "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY.decode()}
        listed = CliRunner().invoke(warehouse, ["partitions", "list"], env=env)
        assert "warehouse.transactions 2020-01 archived 1 rows" in listed.output


def test_detach_without_archive_keeps_the_months_in_the_archive_schema(loaded):
    january_addresses = (
        "SELECT count(*) FROM pii.delivery_addresses WHERE transaction_time < '2020-02-01'"
    )
    with psycopg.connect(loaded) as conn:
        assert conn.execute(january_addresses).fetchone()[0] == 1
        detached = monthly_partitions.detach(conn, date(2020, 2, 1))
        assert {(p.parent, p.state) for p in detached} == {
            ("warehouse.transactions", "kept"),
            ("warehouse.transaction_items", "kept"),
            ("pii.delivery_addresses", "dropped"),
            ("ops.quarantine", "dropped"),
        }
        kept = conn.execute(
            "SELECT count(*) FROM archive.warehouse_transactions_2020_01"
        ).fetchone()[0]
        assert kept == 1
        assert conn.execute("SELECT count(*) FROM warehouse.transactions").fetchone()[0] == 3
        # January's address went with its month; the other months' stay
        assert conn.execute(january_addresses).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pii.delivery_addresses").fetchone()[0] == 3


def test_verify_erasure_searches_the_archive_files(loaded, tmp_path):
    archive = tmp_path / "archive"
    settings = settings_for(loaded, tmp_path / "raw")
    with psycopg.connect(loaded) as conn:
        monthly_partitions.detach(conn, date(2020, 2, 1), archive)
        conn.execute(
            """
            INSERT INTO privacy.erased_customers (customer_key, customer_id, request_id)
            SELECT customer_key, customer_id, 'test' FROM pii.customers
            WHERE customer_id = '000001'
            """
        )
        before = {residue.place for residue in find_residue(conn, settings).residue}
        # archives hold pseudonyms and areas, nothing that names the person
        assert not [place for place in before if str(archive) in place]
        planted = archive / "warehouse.transactions_2020-01.csv.gz"
        planted.write_bytes(gzip.compress(b"person000001@example.com\n"))
        after = {residue.place for residue in find_residue(conn, settings).residue}
    assert after - before == {f"file {planted.resolve()}"}


def test_a_month_loaded_again_after_it_was_archived_is_archived_again_beside_it(loaded, tmp_path):
    archive = tmp_path / "archive"
    with psycopg.connect(loaded) as conn:
        monthly_partitions.detach(conn, date(2020, 2, 1), archive)
    # January's file changes: its new content loads into January, created again
    replacement = lz.transaction(
        "00000000-0000-4000-8000-000000000011",
        "000001",
        transaction_time="2020-01-15T03:00:00",
    )
    lz.write(tmp_path / "raw", "transactions", [replacement], "2020-01-15", hour=2)
    assert load(loaded, tmp_path / "raw").ok
    with psycopg.connect(loaded) as conn:
        january = conn.execute(
            "SELECT transaction_id::text FROM warehouse.transactions "
            "WHERE transaction_time < '2020-02-01'"
        ).fetchall()
        assert january == [("00000000-0000-4000-8000-000000000011",)]
        again = monthly_partitions.detach(conn, date(2020, 2, 1), archive)
        assert {p.parent for p in again} == set(monthly_partitions.DETACHABLE)
        assert monthly_partitions.detach(conn, date(2020, 2, 1)) == []
    first = archive / "warehouse.transactions_2020-01.csv.gz"
    second = archive / "warehouse.transactions_2020-01.2.csv.gz"
    assert "000000000001" in gzip.decompress(first.read_bytes()).decode()
    assert "000000000011" in gzip.decompress(second.read_bytes()).decode()


def test_a_partitions_checks_measure_that_partitions_transactions_only(loaded, conn):
    # the February file stored its own transaction; the January one it repeats is a duplicate
    scoped = quality.transaction_totals(
        conn, window=Window((date(2020, 2, 15), 2), (date(2020, 2, 15), 2))
    )
    assert (scoped.transactions, scoped.inconsistent) == (1, 0)
    assert quality.transaction_totals(conn).transactions == 4
    march = quality.orphans(conn, Window.of_days(date(2020, 3, 1), date(2020, 3, 1)))
    assert (march.transactions, march.unknown_product) == (1, 1)
    assert quality.orphans(conn).transactions == 4
