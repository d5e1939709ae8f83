"""Loading crafted landing files: quarantine reasons, duplicates, precedence, changed files."""

import pytest

from etl.datasets import products as products_etl
from tests import landing_zone as lz
from tests.conftest import decrypted, load, quarantined_payload

TXN_A = "00000000-0000-4000-8000-00000000000a"
TXN_B = "00000000-0000-4000-8000-00000000000b"


def _quarantine(conn):
    return {
        (row[0].rsplit("/", 1)[-1], row[1]): [(e["path"], e["message"]) for e in row[2]]
        for row in conn.execute(
            "SELECT source_file, line_number, errors FROM ops.quarantine ORDER BY 1, 2"
        )
    }


def _log(conn, source_file_suffix):
    row = conn.execute(
        """
        SELECT status, records_read, records_loaded, records_duplicate, records_quarantined,
               error
        FROM ops.load_log WHERE source_file LIKE %s ORDER BY load_id DESC LIMIT 1
        """,
        (f"%{source_file_suffix}",),
    ).fetchone()
    return row


def test_each_broken_record_is_quarantined_with_its_reason_and_the_rest_loads(
    tmp_path, database_url, conn
):
    bad_total = lz.transaction(TXN_B)
    bad_total["purchases"]["products"][0]["total"] = "99.00"
    wrong_type = lz.transaction("00000000-0000-4000-8000-00000000000c")
    wrong_type["purchases"]["products"][0]["price"] = 21.0
    lz.write(tmp_path, "products", [lz.product()])
    lz.write(
        tmp_path,
        "transactions",
        [
            lz.transaction(TXN_A),  # line 1: good
            b'{"transaction_id": "broken',  # line 2: malformed JSON
            wrong_type,  # line 3
            {k: v for k, v in lz.transaction().items() if k != "customer_id"},  # line 4
            # line 5: a field the schema lacks loads without it (discard_value, the default)
            lz.transaction("00000000-0000-4000-8000-00000000000d", coupon="FREE"),
            bad_total,  # line 6
            lz.transaction(
                "00000000-0000-4000-8000-00000000000e", transaction_time="2020-02-30T10:00:00"
            ),  # line 7
        ],
    )
    summary = load(database_url, tmp_path)
    assert summary.ok
    assert conn.execute("SELECT count(*) FROM warehouse.transactions").fetchone()[0] == 2
    reasons = _quarantine(conn)
    assert set(reasons) == {("transactions.json.gz", n) for n in (2, 3, 4, 6, 7)}
    assert reasons[("transactions.json.gz", 2)][0][1].startswith("malformed JSON")
    assert {path for path, _ in reasons[("transactions.json.gz", 3)]} == {
        "$.purchases.products[0].price"
    }
    assert "customer_id" in reasons[("transactions.json.gz", 4)][0][1]
    assert reasons[("transactions.json.gz", 6)] == [
        ("$.purchases.products[0].total", "99.00 is not price 21.00 x quantity 2"),
        ("$.purchases.total_cost", "42.00 is not the sum of the line totals (99.00)"),
    ]
    assert reasons[("transactions.json.gz", 7)][0][0] == "$.transaction_time"
    assert _log(conn, "transactions.json.gz")[:5] == ("loaded", 7, 2, 0, 5)
    assert quarantined_payload(conn, 2) == '{"transaction_id": "broken'


def test_truncated_gzip_is_rejected_whole_and_other_files_still_load(tmp_path, database_url, conn):
    path = lz.write(
        tmp_path,
        "transactions",
        [lz.transaction(f"00000000-0000-4000-8000-{n:012d}") for n in range(2000)],
        hour=1,
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    lz.write(tmp_path, "transactions", [lz.transaction(TXN_A)], hour=2)
    summary = load(database_url, tmp_path)
    assert summary.ok  # a rejected file is the data's fault, not a failure of the run
    status, read, loaded, _, quarantined, error = _log(conn, "hour=01/transactions.json.gz")
    assert (status, loaded) == ("rejected", 0)
    assert 0 < read == quarantined < 2000
    assert "truncated" in error
    stored = [r[0] for r in conn.execute("SELECT transaction_id::text FROM warehouse.transactions")]
    assert stored == [TXN_A]
    reasons = {r[0] for r in conn.execute("SELECT errors->0->>'message' FROM ops.quarantine")}
    assert len(reasons) == 1 and "file rejected" in reasons.pop()


def test_file_that_is_not_gzip_is_rejected(tmp_path, database_url, conn):
    path = tmp_path / "date=2020-01-01/hour=00/customers.json.gz"
    path.parent.mkdir(parents=True)
    path.write_text('{"id": "1"}\n')
    load(database_url, tmp_path)
    status, read, *_, error = _log(conn, "customers.json.gz")
    assert (status, read) == ("rejected", 0)
    assert "not a gzip file" in error


def test_invalid_email_is_quarantined(tmp_path, database_url, conn):
    lz.write(tmp_path, "customers", [lz.customer(email="not-an-email"), lz.customer("000001")])
    load(database_url, tmp_path)
    assert _quarantine(conn)[("customers.json.gz", 1)][0][0] == "$.email"
    assert conn.execute("SELECT customer_id FROM pii.customers").fetchall() == [("000001",)]


def test_customer_is_cleaned_and_split_between_pii_and_analytics(tmp_path, database_url, conn):
    lz.write(
        tmp_path,
        "customers",
        [
            lz.customer(
                " 067318 ",
                email="  Julie.Lyons@Example.COM ",
                phone_number="(0114)4960607",
                postcode="e71ns",
                first_name="  Julie-Anne ",
            )
        ],
    )
    load(database_url, tmp_path)
    [stored] = decrypted(conn, "pii.customers")
    columns = ("customer_id", "first_name", "email", "phone_number", "phone_number_is_e164")
    pii = tuple(stored[column] for column in (*columns, "postcode"))
    assert pii == (
        "067318",
        "Julie-Anne",
        "julie.lyons@example.com",
        "+441144960607",
        True,
        "E7 1NS",
    )
    profile = conn.execute(
        "SELECT postcode_district, city, segment FROM warehouse.customers"
    ).fetchone()
    assert profile == ("E7", "Emer Ville", "health")
    analytics_columns = {
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'warehouse'"
        )
    }
    assert not analytics_columns & {"email", "first_name", "last_name", "phone_number", "address",
                                    "customer_id", "date_of_birth", "postcode"}  # fmt: skip


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_duplicate_transaction_is_stored_once_from_its_earliest_place(
    tmp_path, database_url, conn, order
):
    first = lz.transaction(TXN_A, lines=((1, 1, "1.00"),))
    second = lz.transaction(TXN_A, lines=((2, 1, "2.00"),))
    lz.write(tmp_path, "transactions", [first, first], hour=1)
    lz.write(tmp_path, "transactions", [second], hour=2)
    hours = [1, 2] if order == "forward" else [2, 1]
    for hour in hours:
        moved = tmp_path / f"only{hour}" / f"date=2020-01-01/hour={hour:02d}"
        moved.parent.mkdir(parents=True)
        (tmp_path / f"date=2020-01-01/hour={hour:02d}").rename(moved)
        load(database_url, tmp_path / f"only{hour}")
    rows = conn.execute(
        "SELECT source_file, source_line, total_cost::text FROM warehouse.transactions"
    ).fetchall()
    assert rows == [("date=2020-01-01/hour=01/transactions.json.gz", 1, "1.00")]
    items = conn.execute("SELECT sku FROM warehouse.transaction_items").fetchall()
    assert items == [(1,)]
    duplicates = conn.execute("SELECT sum(records_duplicate) FROM ops.load_log").fetchone()[0]
    assert duplicates == (2 if order == "forward" else 1)


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_newest_customer_record_wins_whatever_the_order(tmp_path, database_url, conn, order):
    lz.write(tmp_path / "a", "customers", [lz.customer(last_change="2020-01-05", city="Newer")])
    lz.write(
        tmp_path / "b",
        "customers",
        [lz.customer(last_change="2020-01-02", city="Older")],
        hour=5,
    )
    for part in ("a", "b") if order == "forward" else ("b", "a"):
        load(database_url, tmp_path / part)
    assert conn.execute("SELECT city FROM pii.customers").fetchall() == [("Newer",)]
    assert conn.execute("SELECT city FROM warehouse.customers").fetchall() == [("Newer",)]


def test_changed_file_replaces_what_its_earlier_version_loaded(tmp_path, database_url, conn):
    lz.write(tmp_path, "products", [lz.product(1, price="1.00"), lz.product(2)], day="2020-01-01")
    lz.write(tmp_path, "products", [lz.product(1, price="1.50")], day="2020-01-02")
    lz.write(tmp_path, "transactions", [lz.transaction(TXN_A), lz.transaction(TXN_B)], hour=3)
    load(database_url, tmp_path)
    assert conn.execute("SELECT price::text FROM warehouse.products WHERE sku = 1").fetchone() == (
        "1.50",
    )
    # The source re-delivers both files corrected.
    lz.write(tmp_path, "products", [lz.product(3)], day="2020-01-02")
    lz.write(tmp_path, "transactions", [lz.transaction(TXN_B, customer_id="000002")], hour=3)
    summary = load(database_url, tmp_path)
    assert summary.datasets["products"].files == {"unchanged": 1, "loaded": 1}
    products = conn.execute(
        "SELECT sku, price::text, catalogue_date::text FROM warehouse.products ORDER BY sku"
    ).fetchall()
    assert products == [(1, "1.00", "2020-01-01"), (2, "21.00", "2020-01-01"),
                        (3, "21.00", "2020-01-02")]  # fmt: skip
    transactions = conn.execute(
        "SELECT t.transaction_id::text, d.customer_id FROM warehouse.transactions t "
        "JOIN pii.delivery_addresses d USING (transaction_id)"
    ).fetchall()
    assert transactions == [(TXN_B, "000002")]


def test_orphans_are_loaded_and_counted(tmp_path, database_url, conn):
    lz.write(tmp_path, "products", [lz.product(1)])
    lz.write(tmp_path, "customers", [lz.customer("000001")])
    lz.write(
        tmp_path,
        "transactions",
        [
            lz.transaction(TXN_A, customer_id="000001", lines=((1, 1, "1.00"),)),
            lz.transaction(TXN_B, customer_id="999999", lines=((1, 1, "1.00"), (7, 1, "2.00"))),
        ],
        hour=1,
    )
    summary = load(database_url, tmp_path)
    assert summary.datasets["transactions"].records["orphans"] == 1
    assert conn.execute("SELECT count(*) FROM warehouse.transactions").fetchone()[0] == 2


def test_a_file_that_fails_leaves_nothing_behind_and_the_run_goes_on(
    tmp_path, database_url, conn, monkeypatch
):
    lz.write(tmp_path, "products", [lz.product(1)], day="2020-01-01")
    lz.write(tmp_path, "products", [lz.product(2)], day="2020-01-02")
    original = products_etl._refresh_current

    def crash_on_second_day(connection, skus_query):
        original(connection, skus_query)
        if connection.execute("SELECT count(*) FROM stg_products WHERE sku = 2").fetchone()[0]:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(products_etl, "_refresh_current", crash_on_second_day)
    summary = load(database_url, tmp_path)
    assert not summary.ok
    assert summary.failures == [
        "date=2020-01-02/hour=00/products.json.gz: RuntimeError: disk on fire"
    ]
    assert conn.execute("SELECT sku FROM warehouse.product_catalogue").fetchall() == [(1,)]
    assert _log(conn, "date=2020-01-02/hour=00/products.json.gz")[0] == "failed"
    monkeypatch.undo()
    assert load(database_url, tmp_path).ok  # the next run retries the failed file
    assert conn.execute("SELECT count(*) FROM warehouse.products").fetchone()[0] == 2


def test_plain_json_and_gzip_forms_are_both_read(tmp_path, database_url, conn):
    lz.write(tmp_path, "customers", [lz.customer("000001")], gz=False)
    lz.write(tmp_path, "customers", [lz.customer("000002")], hour=1)
    load(database_url, tmp_path)
    ids = [row[0] for row in conn.execute("SELECT customer_id FROM pii.customers ORDER BY 1")]
    assert ids == ["000001", "000002"]


def test_memory_is_bounded_by_the_batch_not_the_file(tmp_path, database_url, conn, monkeypatch):
    from etl.loading import staging

    sent_batches = []
    original = staging.CopyBuffer._send

    def spy(self, table):
        sent_batches.append(len(self._rows[table]))
        original(self, table)

    monkeypatch.setattr(staging, "BATCH_ROWS", 100)
    monkeypatch.setattr(staging.CopyBuffer, "_send", spy)
    records = [lz.transaction(f"00000000-0000-4000-8000-{n:012d}") for n in range(1000)]
    lz.write(tmp_path, "transactions", records)
    load(database_url, tmp_path)
    assert conn.execute("SELECT count(*) FROM warehouse.transactions").fetchone()[0] == 1000
    assert max(sent_batches) <= 100
