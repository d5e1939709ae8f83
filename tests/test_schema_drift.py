"""Schema drift: a field the source adds loads without its value (discard_value) or quarantines
its records (freeze), is recorded once per file and field, and shows in status and doctor; a
changed type still quarantines."""

import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from etl.cli import main as warehouse
from etl.loading.runner import run
from etl.settings import DISCARD_VALUE, FREEZE, Settings, SettingsError
from etl.source.landing import DATASETS
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, decrypted, dump_database, load, settings_for

# Values of the new field, each unlike anything else in the database: if one is stored
# anywhere, the dump has it.
LOYALTY = [f"LOYALTY-CARD-{n}-7f3e9c" for n in range(4)]
FILE = "date=2020-01-01/hour=05/customers.json.gz"


def _drifted_customers(root, loyalty=LOYALTY):
    """Customers with a field the schema lacks (`loyalty_card`): two that load, one whose
    e-mail is not one (quarantined for it), one whose segment is a number (a changed type)."""
    records = [
        lz.customer("000001"),
        lz.customer("000002", loyalty_card=loyalty[0]),
        lz.customer("000003", loyalty_card=loyalty[1]),
        lz.customer("000004", loyalty_card=loyalty[2], email="not an e-mail"),
        lz.customer("000005", loyalty_card=loyalty[3], segment=5),
    ]
    return lz.write(root, "customers", records, hour=5)


def _run(database_url, root, **contracts):
    settings = settings_for(database_url, root)
    contract = {**settings.schema_contracts, **contracts}
    summary = run(replace(settings, schema_contracts=contract), show_progress=False)
    assert summary.ok, summary.render()
    return summary


def _drift(conn):
    return conn.execute(
        "SELECT dataset, source_file, field, first_line, records, contract FROM ops.schema_drift"
        " ORDER BY source_file, field"
    ).fetchall()


def _quarantined(conn):
    rows = decrypted(conn, "ops.quarantine")
    return {row["line_number"]: (row["errors"], row["payload"]) for row in rows}


def _cli(args, database_url, root):
    env = {"DATABASE_URL": database_url, "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY.decode(),
           "RAW_DATA_DIR": str(root)}  # fmt: skip
    return CliRunner().invoke(warehouse, args, env=env, catch_exceptions=False)


def test_a_new_customer_field_loads_without_its_value_which_is_stored_nowhere(
    tmp_path, database_url, conn
):
    root = tmp_path / "landing"
    _drifted_customers(root)

    summary = _run(database_url, root, customers=DISCARD_VALUE)

    assert summary.datasets["customers"].records == {
        "read": 5, "loaded": 3, "quarantined": 2, "duplicate": 0, "erased": 0, "scrubbed": 0,
        "orphans": 0,
    }  # fmt: skip
    stored = conn.execute("SELECT customer_id FROM pii.customers ORDER BY 1").fetchall()
    assert stored == [("000001",), ("000002",), ("000003",)]
    # four records carried the field, the first on line 2
    assert _drift(conn) == [("customers", FILE, "$.loyalty_card", 2, 4, DISCARD_VALUE)]
    quarantined = _quarantined(conn)
    assert [e["path"] for e in quarantined[4][0]] == ["$.email"]
    assert quarantined[5][0] == [
        {"path": "$.segment", "message": '5 is not of types "null", "string"'}
    ]
    # the quarantined lines are kept without the field: every other value as received
    for line in (4, 5):
        kept = json.loads(quarantined[line][1])
        assert "loyalty_card" not in kept and kept["id"] == f"00000{line}"
    dump = dump_database(database_url)
    assert "loyalty_card" in dump  # the drift record names the field...
    assert not [value for value in LOYALTY if value in dump]  # ...no value is anywhere


def test_status_and_doctor_report_the_drift(tmp_path, database_url):
    root = tmp_path / "landing"
    _drifted_customers(root)
    _run(database_url, root)  # the default contract

    report = json.loads(_cli(["status", "--json"], database_url, root).output)
    assert report["customers"]["schema_drift"] == [
        {"field": "$.loyalty_card", "contract": DISCARD_VALUE, "first_file": FILE,
         "first_line": 2, "files": 1, "records": 4}
    ]  # fmt: skip
    assert report["transactions"]["schema_drift"] == []
    text = _cli(["status"], database_url, root).output
    assert (
        f"  schema drift: $.loyalty_card: 4 records in 1 files, first {FILE} line 2 "
        "(discard_value: loaded without it)"
    ) in text

    doctor = _cli(["doctor", "--json"], database_url, root)
    found = json.loads(doctor.output)
    assert doctor.exit_code == 0 and found["ok"], found  # a note: nothing is inconsistent
    assert {
        "check": "schema drift",
        "subject": "customers",
        "detail": f"$.loyalty_card: 4 records in 1 files, first {FILE} line 2 "
        "(discard_value: loaded without it)",
        "problem": False,
    } in found["notes"]


def test_under_freeze_a_record_with_a_new_field_is_quarantined_as_before(
    tmp_path, database_url, conn
):
    root = tmp_path / "landing"
    lz.write(root, "customers", [lz.customer("000001"), lz.customer("000002", coupon="FREE")])

    summary = _run(database_url, root, customers=FREEZE)

    assert (summary.datasets["customers"].records["loaded"], len(_quarantined(conn))) == (1, 1)
    errors, payload = _quarantined(conn)[2]
    assert errors == [
        {"path": "$", "message": "Additional properties are not allowed ('coupon' was unexpected)"}
    ]
    assert '"coupon": "FREE"' in payload  # the line as received, as quarantine always kept it
    assert _drift(conn) == [
        ("customers", "date=2020-01-01/hour=00/customers.json.gz", "$.coupon", 2, 1, FREEZE)
    ]


@pytest.mark.parametrize("contract", [FREEZE, DISCARD_VALUE])
def test_a_changed_type_is_quarantined_with_its_reason_and_is_not_drift(
    contract, tmp_path, database_url, conn
):
    root = tmp_path / "landing"
    lz.write(root, "products", [lz.product(1), lz.product(2, price=21.5)])

    summary = _run(database_url, root, products=contract)

    assert summary.datasets["products"].records["quarantined"] == 1
    errors, _ = _quarantined(conn)[2]
    assert errors == [{"path": "$.price", "message": '21.5 is not of type "string"'}]
    assert _drift(conn) == []


def test_nested_fields_are_named_by_their_path_and_counted_once_per_record(
    tmp_path, database_url, conn
):
    root = tmp_path / "landing"
    record = lz.transaction(lines=((1, 1, "5.00"), (2, 2, "3.00")))
    record["delivery_address"]["floor"] = "3rd"
    for item in record["purchases"]["products"]:
        item["discount"] = "0.50"
    other = lz.transaction("00000000-0000-4000-8000-000000000002")
    other["purchases"]["products"][0]["discount"] = "0.10"
    lz.write(root, "transactions", [lz.transaction("00000000-0000-4000-8000-000000000003"),
                                    record, other])  # fmt: skip

    summary = _run(database_url, root)

    assert summary.datasets["transactions"].records["loaded"] == 3
    relative = "date=2020-01-01/hour=00/transactions.json.gz"
    assert _drift(conn) == [
        ("transactions", relative, "$.delivery_address.floor", 2, 1, DISCARD_VALUE),
        ("transactions", relative, "$.purchases.products[*].discount", 2, 2, DISCARD_VALUE),
    ]
    items = conn.execute("SELECT count(*), sum(total) FROM warehouse.transaction_items")
    assert items.fetchone() == (4, 95)  # 2 x 21.00 twice, 5.00 + 2 x 3.00: as they were sent


def test_a_changed_file_replaces_its_drift_and_a_replay_does_not_double_it(
    tmp_path, database_url, conn
):
    root = tmp_path / "landing"
    _drifted_customers(root)
    load(database_url, root)
    assert [row[4] for row in _drift(conn)] == [4]

    # the file sent again with the field in one record only, and another field
    records = [lz.customer("000001", tier="gold"), lz.customer("000002", loyalty_card="X")]
    lz.write(root, "customers", records, hour=5)
    load(database_url, root)
    assert [(row[2], row[3], row[4]) for row in _drift(conn)] == [
        ("$.loyalty_card", 2, 1),
        ("$.tier", 1, 1),
    ]
    load(database_url, root, force=True)
    load(database_url, root)
    assert [(row[2], row[3], row[4]) for row in _drift(conn)] == [
        ("$.loyalty_card", 2, 1),
        ("$.tier", 1, 1),
    ]


def test_the_contract_comes_from_the_environment_per_dataset():
    assert Settings.from_env({}).schema_contracts == dict.fromkeys(DATASETS, DISCARD_VALUE)
    contracts = Settings.from_env(
        {"WAREHOUSE_SCHEMA_CONTRACT": "freeze",
         "WAREHOUSE_SCHEMA_CONTRACT_ERASURE_REQUESTS": " Discard_Value "}
    ).schema_contracts  # fmt: skip
    assert contracts == {"products": FREEZE, "customers": FREEZE, "transactions": FREEZE,
                         "erasure-requests": DISCARD_VALUE}  # fmt: skip
    with pytest.raises(SettingsError, match="WAREHOUSE_SCHEMA_CONTRACT_CUSTOMERS='evolve'"):
        Settings.from_env({"WAREHOUSE_SCHEMA_CONTRACT_CUSTOMERS": "evolve"})
