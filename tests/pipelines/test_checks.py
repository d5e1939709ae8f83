"""Every asset check passes on the clean landing zone and fails on data crafted to break it."""

from pathlib import Path

import pytest
from dagster import AssetCheckSeverity

from etl.privacy.pseudonym import customer_key
from pipelines.resources import SchemaContract
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, load
from tests.pipelines.conftest import (
    ASSET_CHECKS,
    ERASED_ID,
    T1,
    checks_of,
    customer,
    run_checks,
    run_partition,
)


def test_every_check_passes_on_clean_data(loaded):
    evaluations = run_checks(ASSET_CHECKS, loaded)

    assert len(evaluations) == len(ASSET_CHECKS) == 17
    failed = {
        key: evaluation.metadata for key, evaluation in evaluations.items() if not evaluation.passed
    }
    assert failed == {}
    for evaluation in evaluations.values():
        assert "threshold" in evaluation.metadata


def test_quarantine_rate_fails_for_a_partition_flooded_with_broken_records(loaded):
    root = loaded["landing_zone"].raw_data_dir
    flood = [lz.customer("000009")] + [b'{"id": "broken'] * 9
    lz.write(Path(root), "customers", flood, "2020-01-02", hour=10)

    result = run_partition("customers", "2020-01-02-10:00", loaded, with_checks=True)

    [evaluation] = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "quarantine_rate"
    ]
    assert not evaluation.passed
    assert evaluation.metadata["quarantine_rate"].value == pytest.approx(0.9)
    assert evaluation.metadata["threshold"].value == 0.05
    assert evaluation.metadata["partition"].value == "2020-01-02-10:00"
    # an earlier, clean partition still passes
    clean = run_partition("customers", "2020-01-01-05:00", loaded, with_checks=True)
    assert all(e.passed for e in clean.get_asset_check_evaluations())


BREAKS = {
    "quarantine without a load": (
        "products",
        "every_record_accounted_for",
        """INSERT INTO ops.quarantine (dataset, partition_date, source_file, line_number,
                                          errors, payload)
           VALUES ('products', '2020-01-09', 'date=2020-01-09/hour=00/products.json.gz', 1,
                   '[]', '{}')""",
    ),
    "rows from a file never loaded": (
        "transactions",
        "every_record_accounted_for",
        """UPDATE warehouse.transactions SET source_file = 'date=2020-01-09/hour=00/x.json.gz'
           WHERE transaction_id = '"""
        + T1
        + "'",
    ),
    "total_cost not the sum of its lines": (
        "transactions",
        "transaction_totals_consistent",
        f"""UPDATE warehouse.transactions SET total_cost = total_cost + 1
            WHERE transaction_id = '{T1}'""",
    ),
    "line total not price x quantity": (
        "transactions",
        "transaction_totals_consistent",
        f"UPDATE warehouse.transaction_items SET price = price + 1 WHERE transaction_id = '{T1}'",
    ),
    "an e-mail column in an analytics table": (
        "customers",
        "no_direct_identifiers",
        "ALTER TABLE warehouse.customers ADD COLUMN email text",
    ),
    "an e-mail address in an analytics row": (
        "transactions",
        "no_direct_identifiers",
        "UPDATE warehouse.transactions SET delivery_city = 'someone@example.com'",
    ),
    # personal data is ciphertext in pii.*: the residue is planted in a plain-text column
    "a row left for an erased customer": (
        "erasure_requests",
        "no_residue_after_erasure",
        f"""INSERT INTO warehouse.customers (customer_key, city, country, segment, last_change,
                                             source_file, source_line)
            VALUES ('{customer_key(ERASED_ID, TEST_KEY)}', 'Emer Ville', 'United Kingdom',
                    'person{ERASED_ID}@example.com', '2020-01-01',
                    'date=2020-01-01/hour=05/customers.json.gz', 2)""",
    ),
}


@pytest.mark.parametrize(("asset_key", "check_name", "sql"), BREAKS.values(), ids=BREAKS.keys())
def test_a_check_fails_on_data_that_breaks_it(asset_key, check_name, sql, loaded, conn):
    conn.execute(sql)

    evaluations = run_checks(checks_of(asset_key), loaded)

    evaluation = evaluations[asset_key, check_name]
    assert not evaluation.passed, evaluation.metadata
    assert evaluation.severity == AssetCheckSeverity.ERROR


def test_orphans_warn_when_too_many_transactions_have_no_known_customer(loaded, database_url):
    root = Path(loaded["landing_zone"].raw_data_dir)
    orphans = [
        lz.transaction(f"00000000-0000-4000-8000-0000000001{n:02d}", customer_id=f"99999{n}")
        for n in range(3)
    ]
    lz.write(root, "transactions", orphans, "2020-01-02", hour=4)
    assert load(database_url, root).ok

    evaluation = run_checks(checks_of("transactions"), loaded)["transactions", "orphans"]

    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert evaluation.metadata["unknown_customer"].value == 3
    assert evaluation.metadata["unknown_customer_rate"].value == pytest.approx(3 / 8)


def test_schema_drift_warns_for_the_partitions_whose_files_carried_a_new_field(loaded):
    root = Path(loaded["landing_zone"].raw_data_dir)
    drifted = [customer(9, loyalty_card="LC-1"), customer(10, loyalty_card="LC-2")]
    lz.write(root, "customers", drifted, "2020-01-02", hour=10)

    result = run_partition("customers", "2020-01-02-10:00", loaded, with_checks=True)

    [evaluation] = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "schema_drift"
    ]
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert evaluation.metadata["fields"].value == [
        {"field": "$.loyalty_card", "contract": "discard_value",
         "first_file": "date=2020-01-02/hour=10/customers.json.gz", "first_line": 1,
         "files": 1, "records": 2}
    ]  # fmt: skip
    assert evaluation.metadata["records"].value == 2
    assert evaluation.metadata["partition"].value == "2020-01-02-10:00"
    # an earlier partition, without the field, passes; the check run alone sees the drift
    clean = run_partition("customers", "2020-01-01-05:00", loaded, with_checks=True)
    assert all(e.passed for e in clean.get_asset_check_evaluations())
    alone = run_checks(checks_of("customers"), loaded)["customers", "schema_drift"]
    assert not alone.passed and alone.metadata["partition"].value == "all"


def test_the_schema_contract_reaches_the_load_through_its_resource(loaded, conn):
    root = Path(loaded["landing_zone"].raw_data_dir)
    lz.write(root, "customers", [customer(9, loyalty_card="LC-1")], "2020-01-02", hour=10)
    frozen = {**loaded, "schema_contract": SchemaContract(customers="freeze")}

    result = run_partition("customers", "2020-01-02-10:00", frozen, with_checks=True)

    [materialization] = result.asset_materializations_for_node("customers")
    assert materialization.metadata["records_quarantined"].value == 1
    assert conn.execute("SELECT contract FROM ops.schema_drift").fetchall() == [("freeze",)]
