"""`warehouse doctor`: silent on a healthy warehouse, specific about each inconsistency."""

import gzip
import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from etl.cli import main as warehouse
from etl.loading.file_load import record_failure
from etl.source import landing
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, load


@pytest.fixture
def loaded(tmp_path, database_url, monkeypatch):
    """A landing zone, loaded; the CLI pointed at both."""
    root = tmp_path / "landing"
    lz.populate(root, days=1, hours=5, transactions_per_file=30)
    lz.write(root, "customers", [lz.customer("000001"), b'{"id": "000001", "broken'], hour=5)
    assert load(database_url, root).ok
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("WAREHOUSE_PSEUDONYM_KEY", TEST_KEY.decode())
    return root


def _doctor(root, *options):
    result = CliRunner().invoke(warehouse, ["doctor", "--raw-data", str(root), *options])
    return result.exit_code, result.output


def _problems(root):
    exit_code, output = _doctor(root, "--json")
    report = json.loads(output)
    assert exit_code == (0 if report["ok"] else 1)
    return {(p["check"], p["subject"], p["detail"]) for p in report["problems"]}, report["notes"]


def test_a_healthy_warehouse_has_no_problems(loaded):
    exit_code, output = _doctor(loaded)
    assert exit_code == 0, output
    assert output.strip() == "no problems found"
    assert _problems(loaded) == (set(), [])


def test_partitions_not_loaded_changed_or_misplaced_are_problems(loaded):
    lz.write(loaded, "transactions", [lz.transaction()], day="2020-01-05", hour=4)
    lz.write(loaded, "customers", [lz.customer("000002", city="Moved")], hour=5)
    lz.write(loaded, "customers", [lz.customer("000003")], day="2020-01-32")
    problems, notes = _problems(loaded)
    assert problems == {
        ("missing partition", "date=2020-01-05/hour=04/transactions.json.gz",
         "in the landing zone, never loaded"),
        ("missing partition", "date=2020-01-01/hour=05/customers.json.gz",
         "changed since it was loaded: run again"),
        ("unrecognised landing file", "date=2020-01-32/hour=00/customers.json.gz",
         "date=2020-01-32 is not a date (YYYY-MM-DD)"),
    }  # fmt: skip
    assert {"check": "gap in the feed", "subject": "transactions",
            "detail": "no drop from 2020-01-01 05:00 to 2020-01-05 03:00",
            "problem": False} in notes  # fmt: skip
    exit_code, output = _doctor(loaded)
    assert exit_code == 1
    assert "PROBLEM missing partition: date=2020-01-05/hour=04/transactions.json.gz" in output
    assert output.strip().endswith("3 problems, 1 notes")


def test_a_failed_last_load_is_a_problem(loaded, conn):
    [drop] = [
        d for d in landing.discover(loaded) if d.relative_path.endswith("hour=05/customers.json.gz")
    ]
    record_failure(conn, drop, RuntimeError("disk on fire"), datetime.now(UTC))
    problems, _ = _problems(loaded)
    assert problems == {
        ("failed load", drop.relative_path, "last attempt failed: RuntimeError: disk on fire")
    }


def test_rows_no_load_accounts_for_and_counts_that_do_not_add_up(loaded, conn):
    first_hour = "date=2020-01-01/hour=00/transactions.json.gz"
    stored = conn.execute(
        "SELECT count(*) FROM warehouse.transactions WHERE source_file = %s", (first_hour,)
    ).fetchone()[0]
    conn.execute(
        "UPDATE warehouse.transactions SET source_file = 'date=1999-01-01/hour=00/x.json.gz' "
        "WHERE transaction_id = '00000000-0000-4000-8000-000000000001'"
    )
    conn.execute("UPDATE ops.load_log SET records_loaded = 0, records_duplicate = records_read "
                 "WHERE source_file = 'date=2020-01-01/hour=00/transactions.json.gz'")  # fmt: skip
    conn.execute("DELETE FROM ops.quarantine")
    problems, _ = _problems(loaded)
    assert problems == {
        ("orphan rows", "warehouse.transactions",
         "1 rows from date=1999-01-01/hour=00/x.json.gz, which no load logged"),
        ("counts", first_hour, f"warehouse.transactions holds {stored - 1} rows, its load 0"),
        ("counts", "date=2020-01-01/hour=05/customers.json.gz",
         "ops.quarantine holds 0 lines, its load quarantined 1"),
    }  # fmt: skip


def test_tables_that_disagree_are_problems(loaded, conn):
    conn.execute("DELETE FROM pii.customers WHERE customer_id = '000001'")
    conn.execute("UPDATE warehouse.products SET price = 0.01 WHERE sku = 1")
    conn.execute("DELETE FROM warehouse.transaction_items WHERE line_number = 1 AND transaction_id "
                 "= '00000000-0000-4000-8000-000000000001'")  # fmt: skip
    checks = {check for check, _, _ in _problems(loaded)[0]}
    assert checks == {"customers", "products", "transactions"}


def test_an_erased_person_still_present_or_a_request_left_pending_is_a_problem(loaded, conn):
    erased_id = conn.execute("SELECT customer_id FROM privacy.erased_customers LIMIT 1").fetchone()[
        0
    ]
    request_id = conn.execute(
        "SELECT l.request_id FROM privacy.erasure_log l JOIN privacy.erased_customers e "
        "USING (customer_key) WHERE e.customer_id = %s AND l.outcome = 'erased'",
        (erased_id,),
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO pii.delivery_addresses "
        "SELECT transaction_id, transaction_time, %s, 'a', 'b', 'c', 'd' "
        "FROM warehouse.transactions LIMIT 1 ON CONFLICT (transaction_time, transaction_id) "
        "DO UPDATE SET customer_id = EXCLUDED.customer_id",
        (erased_id,),
    )
    present = conn.execute("SELECT customer_key FROM pii.customers LIMIT 1").fetchone()[0]
    requests_file = conn.execute(
        "SELECT source_file FROM ops.load_log WHERE dataset = 'erasure-requests'"
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO privacy.erasure_log (request_id, customer_key, email_key, outcome, "
        "source_file, source_line) VALUES ('pending-1', %s, %s, 'unknown_customer', %s, 9)",
        (present, present, requests_file),
    )
    problems, _ = _problems(loaded)
    assert problems >= {
        ("un-erased request", request_id, "the erased customer is still in pii.delivery_addresses"),
        ("un-erased request", "pending-1", "pending for an unknown customer, who has arrived"),
    }
    # the request slipped in also makes its file's erasure log longer than its load
    assert {check for check, _, _ in problems} == {"un-erased request", "counts"}


def test_a_broken_file_not_loaded_yet_is_reported_not_read(loaded):
    (loaded / "date=2020-01-03/hour=00").mkdir(parents=True)
    (loaded / "date=2020-01-03/hour=00/customers.json.gz").write_bytes(gzip.compress(b"{")[:5])
    problems, _ = _problems(loaded)
    assert problems == {
        ("missing partition", "date=2020-01-03/hour=00/customers.json.gz",
         "in the landing zone, never loaded")
    }  # fmt: skip


def test_a_landing_zone_scrubbed_of_erased_customers_is_no_problem(loaded):
    """`warehouse erase --scrub-landing` rewrites the files that held erased customers; each
    rewritten file's load in effect is then its scrubbed row, which carries the counts of the
    load it follows (before 062 it counted nothing, and doctor saw rows no load accounted for)."""
    problems_before, _ = _problems(loaded)
    status_before = _status(loaded)
    scrubbed = CliRunner().invoke(
        warehouse, ["erase", "--scrub-landing", "--raw-data", str(loaded)]
    )
    assert scrubbed.exit_code == 0, scrubbed.output
    assert "scrubbed date=" in scrubbed.output  # some files held an erased customer
    problems_after, _ = _problems(loaded)
    assert problems_after == problems_before == set()
    status_after = _status(loaded)
    for dataset in ("customers", "transactions"):
        for count in ("files", "records_read", "records_loaded", "duplicates", "quarantined"):
            assert status_after[dataset][count] == status_before[dataset][count], (dataset, count)


def _status(root):
    result = CliRunner().invoke(warehouse, ["status", "--json", "--raw-data", str(root)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)
