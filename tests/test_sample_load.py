"""Loading the month of real sample drops: every record accounted for, idempotent, order-free."""

import gzip
import json
from collections import Counter
from decimal import Decimal

import psycopg
import pytest
from click.testing import CliRunner

from etl.cli import main as warehouse
from etl.datasets import dataset
from etl.inspection.status import status
from etl.loading.file_load import load_files
from etl.source import landing
from etl.warehouse.migrations import migrate
from tests.conftest import TEST_KEY, load, table_checksums


def _source_lines(sample_data, name):
    """Non-blank lines per landing file of a dataset, read independently of the pipeline."""
    counts = {}
    for landing_file in landing.discover(sample_data, (name,)):
        opener = gzip.open if landing_file.is_gzip else open
        with opener(landing_file.path, "rb") as handle:
            counts[landing_file.relative_path] = sum(1 for line in handle if line.strip())
    return counts


@pytest.fixture(scope="module")
def sample_url(new_database, sample_data):
    url = new_database()
    summary = load(url, sample_data)
    assert summary.ok, summary.render()
    return url


@pytest.fixture(scope="module")
def sample_checksums(sample_url):
    return table_checksums(sample_url)


def test_every_record_of_every_file_is_accounted_for(sample_url, sample_data):
    with psycopg.connect(sample_url) as conn:
        logged = {
            row[0]: row[1:]
            for row in conn.execute(
                """
                SELECT source_file, records_read, records_loaded, records_duplicate,
                       records_quarantined, records_erased, status
                FROM ops.load_log
                """
            )
        }
    for name in landing.DATASETS:
        for source_file, lines in _source_lines(sample_data, name).items():
            read, loaded, duplicate, quarantined, erased, status_ = logged[source_file]
            assert status_ == "loaded", source_file
            assert read == lines, source_file
            assert read == loaded + duplicate + quarantined + erased, source_file


def test_transaction_lines_give_ten_thousand_transactions(sample_url, sample_data):
    assert sum(_source_lines(sample_data, "transactions").values()) == 10_036
    with psycopg.connect(sample_url) as conn:
        transactions, duplicates = conn.execute(
            """
            SELECT (SELECT count(*) FROM warehouse.transactions),
                   (SELECT sum(records_duplicate) FROM ops.load_log
                    WHERE dataset = 'transactions')
            """
        ).fetchone()
    assert (transactions, duplicates) == (10_000, 36)


def test_items_match_the_source_purchases(sample_url, sample_data):
    expected = {}
    for landing_file in landing.discover(sample_data, ("transactions",)):
        with gzip.open(landing_file.path, "rt") as handle:
            for line in handle:
                record = json.loads(line)
                expected.setdefault(record["transaction_id"], record["purchases"])
    with psycopg.connect(sample_url) as conn:
        items, units, revenue = conn.execute(
            "SELECT count(*), sum(quantity), sum(total) FROM warehouse.transaction_items"
        ).fetchone()
        total_cost = conn.execute("SELECT sum(total_cost) FROM warehouse.transactions").fetchone()
    assert items == sum(len(p["products"]) for p in expected.values())
    assert units == sum(i["quanitity"] for p in expected.values() for i in p["products"])
    assert str(revenue) == str(total_cost[0])
    assert revenue == sum(Decimal(p["total_cost"]) for p in expected.values())


def test_customer_ids_keep_their_leading_zeros(sample_url, sample_data):
    source_ids = set()
    for landing_file in landing.discover(sample_data, ("customers",)):
        with gzip.open(landing_file.path, "rt") as handle:
            source_ids.update(json.loads(line)["id"] for line in handle)
    with psycopg.connect(sample_url) as conn:
        stored = {row[0] for row in conn.execute("SELECT customer_id FROM pii.customers")}
        erased = {
            row[0] for row in conn.execute("SELECT customer_id FROM privacy.erased_customers")
        }
    assert any(customer_id.startswith("0") for customer_id in stored)
    assert stored | erased == source_ids
    assert "067318" in erased  # an erasure request names it with its leading zero


def test_loading_again_changes_nothing(sample_url, sample_data, sample_checksums):
    summary = load(sample_url, sample_data)
    assert summary.datasets["transactions"].files == Counter(unchanged=744)
    assert summary.datasets["transactions"].records["read"] == 0
    assert table_checksums(sample_url) == sample_checksums


def test_reverse_partition_order_gives_the_same_warehouse(
    new_database, sample_data, sample_checksums
):
    url = new_database()
    files = sorted(landing.discover(sample_data), reverse=True)
    with psycopg.connect(url) as conn:
        migrate(conn)
        for landing_file in files:
            load_files(conn, dataset(landing_file.dataset), [landing_file], TEST_KEY)
    # The erasure log is history, like the load log: when each request was carried out differs.
    reverse = table_checksums(url)
    forward = dict(sample_checksums)
    reverse.pop("privacy.erasure_log")
    forward.pop("privacy.erasure_log")
    assert reverse == forward
    assert reverse["privacy.erased_customers"].startswith("23:")
    assert reverse["warehouse.transactions"].startswith("10000:")


def test_status_json_matches_the_tables(sample_url, sample_data, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sample_url)
    monkeypatch.setenv("RAW_DATA_DIR", str(sample_data))
    monkeypatch.setenv("WAREHOUSE_PSEUDONYM_KEY", TEST_KEY.decode())
    result = CliRunner().invoke(warehouse, ["status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    with psycopg.connect(sample_url) as conn:
        for name, table in [
            ("products", "warehouse.products"),
            ("customers", "warehouse.customers"),
            ("transactions", "warehouse.transactions"),
        ]:
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            quarantined = conn.execute(
                "SELECT count(*) FROM ops.quarantine WHERE dataset = %s", (name,)
            ).fetchone()[0]
            assert report[name]["rows"] == rows
            assert report[name]["rows_in_quarantine"] == quarantined == report[name]["quarantined"]
            assert report[name]["files"] == len(_source_lines(sample_data, name))
        unknown_customer = conn.execute(
            """
            SELECT count(*) FROM warehouse.transactions t
            WHERE NOT EXISTS (SELECT 1 FROM warehouse.customers c
                              WHERE c.customer_key = t.customer_key)
              AND NOT EXISTS (SELECT 1 FROM privacy.erased_customers e
                              WHERE e.customer_key = t.customer_key)
            """
        ).fetchone()[0]
        assert report["transactions"]["orphans"]["unknown_customer"] == unknown_customer
        # what is overdue depends on the hour it is read: the month ended, every hour since is
        overdue = {name: entry.pop("overdue") for name, entry in report.items()}
        again = json.loads(json.dumps(status(conn, sample_data), default=str))
        for entry in again.values():
            entry.pop("overdue")
        assert report == again
    assert overdue["transactions"][0]["first"] == "2020-02-01-00:00"
    assert report["transactions"]["newest_partition"] == "2020-01-31-23:00"
    assert report["transactions"]["partitions"] == 744
    assert report["transactions"]["duplicates"] == 36


def test_parallel_workers_give_the_same_warehouse(new_database, sample_data, sample_checksums):
    url = new_database()
    summary = load(url, sample_data, workers=2)
    assert summary.ok, summary.render()
    assert summary.datasets["transactions"].files == Counter(loaded=744)
    assert table_checksums(url) == sample_checksums
