"""Assets materialised in-process against PostgreSQL: one partition loads exactly its files."""

import random

import psycopg
import pytest
from dagster import Failure, build_asset_context

from etl.privacy.pseudonym import customer_key
from etl.warehouse.migrations import migrate
from pipelines.assets.loading import materialize_partitions
from pipelines.resources import warehouse_settings
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, load, table_checksums
from tests.pipelines.conftest import (
    ERASED_ID,
    PARTITIONS,
    T1,
    T2,
    T3,
    checks_of,
    customer,
    resources,
    run_checks,
    run_partition,
    run_range,
)


def _metadata(result, asset_key):
    [materialization] = result.asset_materializations_for_node(asset_key)
    return {name: value.value for name, value in materialization.metadata.items()}


def _logged(conn, source_file):
    return conn.execute(
        """
        SELECT records_read, records_loaded, records_duplicate, records_quarantined,
               records_erased, orphans
        FROM ops.load_log WHERE source_file = %s ORDER BY load_id DESC LIMIT 1
        """,
        (source_file,),
    ).fetchone()


def test_a_partition_loads_its_files_only_and_reports_their_counts(
    landing, database_url, conn, tmp_path
):
    test_resources = resources(database_url, landing, tmp_path / "home")
    result = run_partition("transactions", "2020-01-01-06:00", test_resources)

    assert result.success
    metadata = _metadata(result, "transactions")
    schema = metadata.pop("dagster/column_schema")
    assert [column.name for column in schema.columns][:3] == [
        "transaction_id",
        "customer_key",
        "transaction_time",
    ]
    assert schema.columns[0].type == "uuid" and not schema.columns[0].constraints.nullable
    assert schema.columns[0].description == "The source's transaction id."
    read, loaded, duplicate, quarantined, erased, orphans = _logged(
        conn, "date=2020-01-01/hour=06/transactions.json.gz"
    )
    assert metadata == {
        "files": 1,
        "files_loaded": 1,
        "files_unchanged": 0,
        "files_rejected": 0,
        "files_failed": 0,
        "records_read": read,
        "records_loaded": loaded,
        "records_duplicate": duplicate,
        "records_quarantined": quarantined,
        "records_erased": erased,
        "records_scrubbed": 0,
        "orphans": orphans,
        "dagster/row_count": 2,
    }
    assert (read, loaded, orphans) == (2, 2, 2)  # neither customer nor products loaded yet
    stored = {
        row[0] for row in conn.execute("SELECT transaction_id::text FROM warehouse.transactions")
    }
    assert stored == {T1, T3}
    assert conn.execute("SELECT count(DISTINCT source_file) FROM ops.load_log").fetchone()[0] == 1

    again = _metadata(
        run_partition("transactions", "2020-01-01-06:00", test_resources), "transactions"
    )
    assert (again["files_unchanged"], again["records_read"]) == (1, 0)


def test_a_range_of_partitions_loads_in_one_run_and_each_partition_shows_its_own_counts(
    landing, database_url, conn, tmp_path
):
    """A backfill's run: the asset loads the range's files in one step, every partition of the
    range gets a materialisation with its own counts, and the checks measure the range."""
    test_resources = resources(database_url, landing, tmp_path / "home")
    result = run_range("transactions", "2020-01-01-04:00", "2020-01-01-07:00", test_resources)

    assert result.success
    materialized = {
        m.partition: {name: value.value for name, value in m.metadata.items()}
        for m in result.asset_materializations_for_node("transactions")
    }
    assert sorted(materialized) == [f"2020-01-01-0{hour}:00" for hour in range(4, 8)]
    counts = {
        key: (m["files"], m["records_read"], m["records_loaded"], m["records_duplicate"],
              m["dagster/row_count"])
        for key, m in materialized.items()
    }  # fmt: skip
    assert counts == {
        "2020-01-01-04:00": (0, 0, 0, 0, 0),
        "2020-01-01-05:00": (1, 2, 2, 0, 2),
        "2020-01-01-06:00": (1, 2, 1, 1, 1),  # T1 again, from its earlier place in hour 05
        "2020-01-01-07:00": (0, 0, 0, 0, 0),
    }
    # the table's columns on every partition's materialisation
    assert {len(m["dagster/column_schema"].columns) for m in materialized.values()} == {9}
    stored = {
        row[0] for row in conn.execute("SELECT transaction_id::text FROM warehouse.transactions")
    }
    assert stored == {T1, T2, T3}  # the next day's hour 03 is outside the range
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["transaction_totals_consistent"].passed
    assert evaluations["transaction_totals_consistent"].metadata["transactions"].value == 3
    assert (
        evaluations["orphans"].metadata["partition"].value == "2020-01-01-04:00...2020-01-01-07:00"
    )
    assert evaluations["quarantine_rate"].metadata["records_read"].value == 4


def test_a_daily_partition_loads_every_file_of_its_day(landing, database_url, conn, tmp_path):
    # The same request as plain .json and as .json.gz, as the feed sends them.
    plain = landing / "date=2020-01-02" / "hour=00" / "erasure-requests.json"
    lz.write(landing, "erasure-requests", [plain.read_text().strip()], "2020-01-02", gz=True)

    result = run_partition(
        "erasure_requests", "2020-01-02", resources(database_url, landing, tmp_path / "h")
    )

    metadata = _metadata(result, "erasure_requests")
    assert (metadata["files"], metadata["records_read"], metadata["records_duplicate"]) == (2, 2, 1)


@pytest.mark.parametrize("order", ["reverse", "shuffled"])
def test_a_backfill_in_any_order_equals_a_sequential_load(order, landing, new_database, tmp_path):
    sequential = new_database()
    assert load(sequential, landing).ok
    backfill = new_database()
    with psycopg.connect(backfill) as connection:
        migrate(connection)
        connection.commit()
    partitions = list(reversed(PARTITIONS))
    if order == "shuffled":
        random.Random(5).shuffle(partitions)
    test_resources = resources(backfill, landing, tmp_path / "home")

    for asset_key, partition_key in partitions:
        assert run_partition(asset_key, partition_key, test_resources).success

    # The erasure log is history, like the load log: when each request was carried out differs.
    expected, actual = table_checksums(sequential), table_checksums(backfill)
    expected.pop("privacy.erasure_log")
    actual.pop("privacy.erasure_log")
    assert actual == expected
    assert actual["privacy.erased_customers"].startswith("1:")


def test_an_erased_customer_stays_erased_whatever_loads_come_after(
    landing, database_url, conn, tmp_path
):
    test_resources = resources(database_url, landing, tmp_path / "home")
    for asset_key, partition_key in [
        ("customers", "2020-01-01-05:00"),
        ("transactions", "2020-01-01-05:00"),
        ("erasure_requests", "2020-01-02"),
    ]:
        run_partition(asset_key, partition_key, test_resources)
    # The day's loads after the erasure: the customer sent again, a new transaction of theirs,
    # and a replay of the hour they first arrived in, with changed content.
    customers_later = run_partition("customers", "2020-01-02-03:00", test_resources)
    transactions_later = run_partition("transactions", "2020-01-02-03:00", test_resources)
    lz.write(landing, "customers", [customer(2), customer(1), customer(4)], "2020-01-01", hour=5)
    replay = run_partition("customers", "2020-01-01-05:00", test_resources)

    assert _metadata(customers_later, "customers")["records_erased"] == 1
    assert _metadata(transactions_later, "transactions")["records_scrubbed"] == 1
    assert _metadata(replay, "customers")["records_erased"] == 1
    subject = customer_key(ERASED_ID, TEST_KEY)
    assert (
        conn.execute(
            "SELECT count(*) FROM pii.customers WHERE customer_id = %s", (ERASED_ID,)
        ).fetchone()[0]
        == 0
    )
    assert (
        conn.execute(
            "SELECT count(*) FROM warehouse.customers WHERE customer_key = %s", (subject,)
        ).fetchone()[0]
        == 0
    )
    assert (
        conn.execute(
            "SELECT count(*) FROM pii.delivery_addresses WHERE customer_id = %s", (ERASED_ID,)
        ).fetchone()[0]
        == 0
    )
    evaluations = run_checks(checks_of("erasure_requests"), test_resources)
    assert evaluations["erasure_requests", "no_residue_after_erasure"].passed


def test_a_file_that_fails_fails_the_partition_with_its_counts(
    landing, database_url, conn, tmp_path
):
    conn.execute("ALTER TABLE warehouse.customers RENAME TO customers_elsewhere")
    test_resources = resources(database_url, landing, tmp_path / "home")
    context = build_asset_context(partition_key="2020-01-01-05:00")

    with pytest.raises(Failure) as failure:
        materialize_partitions(
            context,
            "customers",
            warehouse_settings(
                test_resources["database"],
                test_resources["landing_zone"],
                test_resources["pseudonym_key"],
                test_resources["schema_contract"],
            ),
        )

    assert "date=2020-01-01/hour=05/customers.json.gz" in failure.value.description
    assert failure.value.metadata["files_failed"].value == 1
    status = conn.execute("SELECT status FROM ops.load_log").fetchone()[0]
    assert status == "failed"
