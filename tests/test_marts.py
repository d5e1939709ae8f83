"""Marts: each agrees with the base tables, holds no identifier, refreshes incrementally to the
same result as a full rebuild, never blocks readers, and stays consistent through erasure and
key rotation; the example queries run as the analyst."""

import gzip
import json
import shutil
from collections import Counter, defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import make_conninfo

from etl.cli import main as warehouse
from etl.datasets import dataset
from etl.encryption import keystore
from etl.encryption.key_rotation import rotate_key
from etl.loading.file_load import load_files
from etl.privacy.pseudonym import customer_key
from etl.settings import PROJECT_DIR, SQL_SCRIPTS_DIR, Settings
from etl.source import landing
from etl.source.landing import Window
from etl.warehouse import marts
from etl.warehouse.migrations import available
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, create_keystore, decrypted, load

EXAMPLES = sorted((SQL_SCRIPTS_DIR / "examples").glob("*.sql"))
CENT = Decimal("0.01")


def _average(revenue, orders):
    return (revenue / orders).quantize(CENT, ROUND_HALF_UP)


def _rows(conn, sql):
    return [tuple(row) for row in conn.execute(sql)]


def _marts(conn):
    """(name, is a table) of every mart table and view, pending_days aside."""
    return _rows(
        conn,
        """
        SELECT table_name, table_type = 'BASE TABLE' FROM information_schema.tables
        WHERE table_schema = 'marts' AND table_name <> 'pending_days' ORDER BY 1
        """,
    )


def _snapshot(conn):
    return {
        name: sorted(_rows(conn, f"SELECT * FROM marts.{name}"), key=repr)
        for name, _ in _marts(conn)
    }


def _mart_snapshot(url):
    """Every row of every mart, sorted, by mart name."""
    with psycopg.connect(url) as conn:
        return _snapshot(conn)


def _rebuilt_snapshot(url):
    """The marts recomputed from nothing, in a transaction rolled back afterwards."""
    with psycopg.connect(url) as conn:
        for name, is_table in _marts(conn):
            if is_table:
                conn.execute(f"DELETE FROM marts.{name}")
        conn.execute("SELECT marts.refresh_all()")
        rebuilt = _snapshot(conn)
        conn.rollback()
    return rebuilt


def _load_files(url, root, datasets):
    """Load files with load_files alone: no migration (which needs the owner), no refresh."""
    with psycopg.connect(url) as conn:
        for landing_file in landing.discover(root, datasets):
            load_files(conn, dataset(landing_file.dataset), [landing_file], TEST_KEY)


@pytest.fixture(scope="module")
def base(loaded_sample):
    """The base tables' rows the marts derive from, read plainly (no aggregation in SQL)."""
    with psycopg.connect(loaded_sample) as conn:
        return {
            "transactions": _rows(
                conn,
                """
                SELECT transaction_id, customer_key, transaction_time, delivery_country,
                       delivery_city, delivery_postcode_district, total_cost
                FROM warehouse.transactions
                """,
            ),
            "items": _rows(
                conn, "SELECT transaction_id, sku, quantity, total FROM warehouse.transaction_items"
            ),
            "customers": _rows(
                conn,
                "SELECT customer_key, segment, country, city, postcode_district "
                "FROM warehouse.customers",
            ),
            "load_log": _rows(
                conn,
                """
                SELECT load_id, dataset, partition_date, source_file, status, records_read,
                       records_loaded, records_duplicate, records_quarantined, records_erased,
                       orphans
                FROM ops.load_log
                """,
            ),
        }


def test_daily_and_hourly_sales_agree_with_the_transactions(loaded_sample, base):
    items_of = defaultdict(list)
    for transaction_id, _, quantity, _ in base["items"]:
        items_of[transaction_id].append(quantity)
    daily, hourly = defaultdict(Counter), defaultdict(Counter)
    daily_customers, hourly_customers = defaultdict(set), defaultdict(set)
    for transaction_id, key, time, *_, total_cost in base["transactions"]:
        for figures, customers, grain in (
            (daily, daily_customers, time.date()),
            (hourly, hourly_customers, (time.date(), time.hour)),
        ):
            figures[grain].update(
                orders=1,
                items=len(items_of[transaction_id]),
                units=sum(items_of[transaction_id]),
                revenue=total_cost,
            )
            customers[grain].add(key)

    def expected(figures, customers, grain):
        f = figures[grain]
        return (f["orders"], f["items"], f["units"], f["revenue"], len(customers[grain]),
                _average(f["revenue"], f["orders"]))  # fmt: skip

    with psycopg.connect(loaded_sample) as conn:
        mart_daily = _rows(conn, "SELECT * FROM marts.daily_sales ORDER BY 1")
        mart_hourly = _rows(conn, "SELECT * FROM marts.hourly_sales ORDER BY 1, 2")
    assert mart_daily == [(day, *expected(daily, daily_customers, day)) for day in sorted(daily)]
    assert mart_hourly == [
        (*grain, *expected(hourly, hourly_customers, grain)) for grain in sorted(hourly)
    ]
    assert len(mart_daily) == 31 and len(mart_hourly) == 744
    assert sum(row[1] for row in mart_daily) == 10_000


def test_product_sales_agree_with_the_purchased_lines(loaded_sample, base):
    day_of = {row[0]: row[2].date() for row in base["transactions"]}
    expected = defaultdict(Counter)
    orders = defaultdict(set)
    for transaction_id, sku, quantity, total in base["items"]:
        grain = (day_of[transaction_id], sku)
        expected[grain].update(units=quantity, revenue=total)
        orders[grain].add(transaction_id)
    with psycopg.connect(loaded_sample) as conn:
        mart = _rows(conn, "SELECT * FROM marts.product_daily_sales ORDER BY 1, 2")
        # the sample's catalogues never change a price: each sku is in one catalogue only
        assert _rows(conn, "SELECT * FROM marts.product_price_changes") == []
    assert mart == [
        (*grain, len(orders[grain]), expected[grain]["units"], expected[grain]["revenue"])
        for grain in sorted(expected)
    ]


def test_area_marts_agree_with_deliveries_and_customers(loaded_sample, base):
    expected = defaultdict(Counter)
    for _, _, time, country, city, district, total_cost in base["transactions"]:
        expected[(time.date(), country, city, district)].update(orders=1, revenue=total_cost)
    residents = Counter(
        (country, city, district) for _, _, country, city, district in base["customers"]
    )
    with psycopg.connect(loaded_sample) as conn:
        mart = _rows(conn, "SELECT * FROM marts.area_daily_sales ORDER BY 1, 2, 3, 4 NULLS FIRST")
        by_area = dict(
            ((country, city, district), customers)
            for country, city, district, customers in conn.execute(
                "SELECT * FROM marts.customers_by_area"
            )
        )
    assert sorted(mart, key=repr) == sorted(
        ((*grain, f["orders"], f["revenue"]) for grain, f in expected.items()), key=repr
    )
    assert by_area == residents
    assert sum(by_area.values()) == len(base["customers"])


def test_customer_marts_agree_with_transactions_and_segments(loaded_sample, base):
    orders = defaultdict(list)
    for _, key, time, *_, total_cost in base["transactions"]:
        orders[key].append((time.date(), total_cost))
    segment_of = {key: segment for key, segment, *_ in base["customers"]}
    with psycopg.connect(loaded_sample) as conn:
        mart = _rows(conn, "SELECT * FROM marts.customer_orders ORDER BY 1")
        by_day = _rows(conn, "SELECT * FROM marts.customer_days ORDER BY 1, 2")
        by_month = _rows(conn, "SELECT * FROM marts.customer_months ORDER BY 1, 2")
        per_customer = _rows(conn, "SELECT * FROM marts.customer_segments ORDER BY 1")
        rates = {
            (row[0], row[1]): row[2:]
            for row in conn.execute("SELECT * FROM marts.segment_repeat_rates")
        }
    assert mart == [
        (key, min(d for d, _ in o), max(d for d, _ in o), len(o), sum(c for _, c in o))
        for key, o in sorted(orders.items())
    ]
    days = defaultdict(list)
    for key, o in orders.items():
        for day, total_cost in o:
            days[key, day].append(total_cost)
    assert by_day == [(key, day, len(c), sum(c)) for (key, day), c in sorted(days.items())]
    months = defaultdict(list)
    for key, o in orders.items():
        for day, total_cost in o:
            months[key, day.replace(day=1)].append((day, total_cost))
    assert by_month == [
        (key, month, min(d for d, _ in o), max(d for d, _ in o), len(o), sum(c for _, c in o))
        for (key, month), o in sorted(months.items())
    ]
    everyone = sorted(set(orders) | set(segment_of))
    assert [(row[0], row[1], row[2], row[5], row[7]) for row in per_customer] == [
        (key, segment_of.get(key), key in segment_of, len(orders[key]), len(orders[key]) > 1)
        for key in everyone
    ]
    expected = defaultdict(Counter)
    for key in everyone:
        group = (segment_of.get(key), key in segment_of)
        count = len(orders[key])
        expected[group].update(
            customers=1, ordering=count > 0, repeat=count > 1, orders=count,
            revenue=sum(c for _, c in orders[key]),
        )  # fmt: skip
    assert rates == {
        group: (
            f["customers"], f["ordering"], f["repeat"],
            (Decimal(f["repeat"]) / f["ordering"]).quantize(Decimal("0.0001"), ROUND_HALF_UP),
            f["orders"], f["revenue"],
        )
        for group, f in expected.items()
    }  # fmt: skip
    # The sample's 23 erased customers keep their orders, under no segment and no record.
    assert rates[(None, False)][:2] == (23, 23)


def test_data_quality_agrees_with_the_landing_files_and_the_load_log(
    loaded_sample, sample_data, base
):
    lines, files = Counter(), Counter()
    for landing_file in landing.discover(sample_data):
        opener = gzip.open if landing_file.is_gzip else open
        with opener(landing_file.path, "rb") as handle:
            grain = (landing_file.dataset, landing_file.partition_date)
            lines[grain] += sum(1 for line in handle if line.strip())
            files[grain] += 1
    # each file's last load, by source_file (every load of the sample is 'loaded')
    latest = {row[3]: row[1:] for row in sorted(base["load_log"])}
    expected = defaultdict(Counter)
    for name, day, _, status, *counts in latest.values():
        assert status == "loaded"
        measures = ("read", "loaded", "duplicate", "quarantined", "erased", "orphans")
        expected[(name, day)].update(dict(zip(measures, counts, strict=True)))
    with psycopg.connect(loaded_sample) as conn:
        mart = _rows(conn, "SELECT * FROM marts.data_quality ORDER BY 1, 2")
    assert mart == [
        (name, day, files[(name, day)], 0, 0, lines[(name, day)], f["loaded"], f["duplicate"],
         f["quarantined"], f["erased"], f["orphans"])
        for (name, day), f in sorted(expected.items())
    ]  # fmt: skip
    # The sample's known defect: transactions repeated five times in one hour of 2020-01-29.
    duplicates = {(row[0], row[1]): row[7] for row in mart if row[7]}
    assert duplicates[("transactions", date(2020, 1, 29))] == 36


def _identifiers(sample_data):
    """E-mails, phones, names and street addresses and postcodes of every customer of the
    sample, as the landing zone gives them, lower-cased."""
    found = {"email": set(), "phone": set(), "name": set(), "address": set(), "postcode": set()}
    for landing_file in landing.discover(sample_data, ("customers", "transactions")):
        with gzip.open(landing_file.path, "rt") as handle:
            for line in handle:
                record = json.loads(line)
                if "delivery_address" in record:
                    found["address"].add(record["delivery_address"]["address"])
                    found["postcode"].add(record["delivery_address"]["postcode"])
                    continue
                found["email"].add(record["email"])
                found["phone"].add(record["phone_number"])
                found["name"].update(
                    (record["first_name"], record["last_name"],
                     f"{record['first_name']} {record['last_name']}")
                )  # fmt: skip
                found["address"].add(record["address"])
                found["postcode"].add(record["postcode"])
    return {kind: {v.strip().lower() for v in values if v} for kind, values in found.items()}


def test_marts_hold_no_emails_phones_names_or_addresses(loaded_sample, sample_data):
    identifiers = _identifiers(sample_data)
    with psycopg.connect(loaded_sample) as conn:
        # the cleaned forms too (E.164 phones, spaced postcodes) of customers not erased
        for kind, column in [("phone", "phone_number"), ("postcode", "postcode"),
                             ("email", "email"), ("address", "address")]:  # fmt: skip
            identifiers[kind].update(
                row[column].lower() for row in decrypted(conn, "pii.customers") if row[column]
            )
        columns = _rows(
            conn,
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'marts'",
        )
    cells = {
        str(value).strip().lower()
        for rows in _mart_snapshot(loaded_sample).values()
        for row in rows
        for value in row
        if value is not None
    }
    text = "\n".join(cells)
    assert len(identifiers["email"]) > 700 and len(identifiers["address"]) > 5_000
    for kind in ("email", "phone", "address"):
        assert [value for value in identifiers[kind] if value in text] == [], kind
    for kind in ("name", "postcode"):
        assert identifiers[kind] & cells == set(), kind
    forbidden = ("email", "phone", "first_name", "last_name", "birth", "address", "customer_id")
    assert [c for c in columns if any(word in c[1] for word in forbidden)] == []
    assert {c[1] for c in columns if "postcode" in c[1]} == {"postcode_district"}


def test_refresh_never_blocks_readers(loaded_sample):
    as_analyst = make_conninfo(loaded_sample, user="warehouse_analyst")
    with psycopg.connect(loaded_sample) as writer, psycopg.connect(as_analyst) as reader:
        reader.execute("SET statement_timeout = '2s'")
        before = _rows(reader, "SELECT * FROM marts.daily_sales ORDER BY 1")
        reader.commit()
        writer.execute(
            "DELETE FROM warehouse.transactions WHERE transaction_time::date = '2020-01-05'"
        )
        assert writer.execute("SELECT marts.refresh_pending()").fetchone() == (1,)
        assert writer.execute(
            "SELECT count(*) FROM marts.daily_sales WHERE sales_date = '2020-01-05'"
        ).fetchone() == (0,)
        # The refresh is not committed: the reader sees the old rows at once, never waits.
        assert _rows(reader, "SELECT * FROM marts.daily_sales ORDER BY 1") == before
        writer.rollback()


@pytest.fixture(scope="module")
def analyst_conn(loaded_sample):
    with psycopg.connect(make_conninfo(loaded_sample, user="warehouse_analyst")) as conn:
        yield conn


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_query_runs_as_the_analyst_and_returns_rows(example, analyst_conn):
    sql = example.read_text()
    header = sql.splitlines()[:2]
    assert all(line.startswith("-- ") for line in header), "each example opens with a comment"
    try:
        rows = analyst_conn.execute(sql).fetchall()
    finally:
        analyst_conn.rollback()
    assert rows


def test_examples_are_documented_and_not_migrations():
    assert len(EXAMPLES) >= 5
    assert {m.name for m in available()}.isdisjoint(path.name for path in EXAMPLES)


def test_the_analyst_reads_marts_but_cannot_refresh_or_write_them(loaded_sample, analyst_conn):
    for name, _ in _marts(analyst_conn):
        analyst_conn.execute(f"SELECT * FROM marts.{name} LIMIT 1")
    for statement in ("SELECT marts.refresh_pending()", "DELETE FROM marts.daily_sales"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            analyst_conn.execute(statement)
        analyst_conn.rollback()
    with psycopg.connect(make_conninfo(loaded_sample, user="warehouse_loader")) as loader:
        assert loader.execute("SELECT marts.refresh_pending()").fetchone() == (0,)


def _rewrite(path, change):
    """Rewrite a gzipped landing file, record by record."""
    with gzip.open(path, "rt") as handle:
        records = [json.loads(line) for line in handle]
    lines = "".join(json.dumps(record) + "\n" for record in change(records))
    path.write_bytes(gzip.compress(lines.encode()))


def test_runs_day_by_day_and_changed_files_refresh_to_a_full_rebuild(tmp_path, database_url):
    """The generated sample (repriced products, a transaction outside its hour, orphans, a
    truncated file) loaded a day per run, then with changed files, gives the marts a full
    rebuild gives."""
    raw = tmp_path / "raw_data"
    shutil.copytree(PROJECT_DIR / "raw_data", raw)
    for day in ("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"):
        one_day = date.fromisoformat(day)
        assert load(database_url, raw, window=Window.of_days(one_day, one_day)).ok
    after_days = _mart_snapshot(database_url)
    assert after_days == _rebuilt_snapshot(database_url)
    assert len(after_days["product_price_changes"]) == 4
    assert [row[0] for row in after_days["daily_sales"]] == [date(2024, 1, d) for d in (1, 2, 3)]

    # A transaction moves to another day, another is dropped; a repriced product is put back.
    def move_and_drop(records):
        records[0]["transaction_time"] = "2024-01-01T10:00:00.000001"
        return records[:-1]

    _rewrite(raw / "date=2024-01-02/hour=05/transactions.json.gz", move_and_drop)
    with gzip.open(raw / "date=2024-01-01/hour=00/products.json.gz", "rt") as handle:
        first_prices = {record["sku"]: record["price"] for record in map(json.loads, handle)}

    def restore_prices(records):
        for record in records:
            if record.get("sku") in first_prices:
                record["price"] = first_prices[record["sku"]]
        return records

    _rewrite(raw / "date=2024-01-02/hour=00/products.json.gz", restore_prices)
    assert load(database_url, raw).ok
    changed = _mart_snapshot(database_url)
    assert changed == _rebuilt_snapshot(database_url)
    assert changed != after_days
    assert len(changed["product_price_changes"]) < 4
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM marts.pending_days").fetchone() == (0,)


def _small_zone(root):
    lz.write(root, "customers", [
        lz.customer("000001", segment="health"),
        lz.customer("000002", segment=None, city="Mariastad"),
    ])  # fmt: skip
    lz.write(root, "transactions", [
        lz.transaction("00000000-0000-4000-8000-000000000001", customer_id="000001"),
        lz.transaction("00000000-0000-4000-8000-000000000002", customer_id="000002"),
        lz.transaction("00000000-0000-4000-8000-000000000003", customer_id="000009"),
    ], hour=1)  # fmt: skip
    lz.write(root, "transactions", [
        lz.transaction("00000000-0000-4000-8000-000000000004", customer_id="000001",
                       transaction_time="2020-01-02T09:30:00"),
    ], day="2020-01-02", hour=9)  # fmt: skip


def test_erasure_leaves_the_customer_marts_consistent(tmp_path, database_url, conn):
    _small_zone(tmp_path)
    assert load(database_url, tmp_path).ok
    before = _mart_snapshot(database_url)
    request = {"customer-id": "000001", "email": "person000001@example.com"}
    lz.write(tmp_path, "erasure-requests", [request], day="2020-01-03")
    assert load(database_url, tmp_path).ok
    after = _mart_snapshot(database_url)
    erased = customer_key("000001", TEST_KEY)
    # Orders stay under the pseudonym: sales and per-customer orders do not change.
    for name in ("customer_orders", "daily_sales", "hourly_sales", "area_daily_sales",
                 "product_daily_sales"):  # fmt: skip
        assert after[name] == before[name], name
    # The erased customer keeps their orders but loses their segment and home area.
    rows = _rows(conn, "SELECT customer_key, segment, customer_known, orders FROM "
                       "marts.customer_segments ORDER BY customer_known, customer_key")  # fmt: skip
    assert sorted(rows) == sorted([
        (erased, None, False, 2),
        (customer_key("000009", TEST_KEY), None, False, 1),
        (customer_key("000002", TEST_KEY), None, True, 1),
    ])  # fmt: skip
    rates = {(r[0], r[1]): (r[2], r[6]) for r in after["segment_repeat_rates"]}
    assert rates == {(None, False): (2, 3), (None, True): (1, 1)}
    assert before["customers_by_area"] == [("United Kingdom", "Emer Ville", "E7", 1),
                                           ("United Kingdom", "Mariastad", "E7", 1)]  # fmt: skip
    assert after["customers_by_area"] == [("United Kingdom", "Mariastad", "E7", 1)]
    assert _rebuilt_snapshot(database_url) == after


def test_the_loader_and_the_privacy_officer_need_no_privilege_on_the_marts(tmp_path, database_url):
    """The triggers and the refresh run as the marts' owner: the loader's loads note their
    days, and the loader and the privacy officer may refresh."""
    _small_zone(tmp_path)
    request = {"customer-id": "000001", "email": "person000001@example.com"}
    lz.write(tmp_path, "erasure-requests", [request], day="2020-01-03")
    create_keystore(database_url)
    as_loader = make_conninfo(database_url, user="warehouse_loader")
    _load_files(as_loader, tmp_path, ("customers", "transactions"))
    with psycopg.connect(as_loader) as conn:
        assert marts.refresh(conn) == 2
    _load_files(database_url, tmp_path, ("erasure-requests",))
    with psycopg.connect(make_conninfo(database_url, user="warehouse_privacy_officer")) as conn:
        assert marts.refresh(conn) == 1
    refreshed = _mart_snapshot(database_url)
    assert [row[:2] for row in refreshed["daily_sales"]] == [
        (date(2020, 1, 1), 3),
        (date(2020, 1, 2), 1),
    ]
    assert [row[:2] for row in refreshed["data_quality"]] == [
        ("customers", date(2020, 1, 1)),
        ("erasure-requests", date(2020, 1, 3)),
        ("transactions", date(2020, 1, 1)),
        ("transactions", date(2020, 1, 2)),
    ]
    assert refreshed == _rebuilt_snapshot(database_url)


def test_key_rotation_rekeys_the_customer_mart(tmp_path, database_url, conn):
    _small_zone(tmp_path)
    assert load(database_url, tmp_path).ok
    new_key = b"a-brand-new-key-of-at-least-32-characters"
    with keystore.beside(conn, Settings.from_env({}).master) as data_keys:
        rotate_key(conn, TEST_KEY, new_key, data_keys)
    keys = {row[0] for row in conn.execute("SELECT customer_key FROM marts.customer_orders")}
    assert keys == {customer_key(c, new_key) for c in ("000001", "000002", "000009")}
    assert _mart_snapshot(database_url) == _rebuilt_snapshot(database_url)


def test_warehouse_marts_refresh_command(loaded_sample, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", loaded_sample)
    monkeypatch.setenv("WAREHOUSE_PSEUDONYM_KEY", TEST_KEY.decode())
    before = _mart_snapshot(loaded_sample)
    runner = CliRunner()
    result = runner.invoke(warehouse, ["marts", "refresh", "--start", "2020-01-01",
                                       "--end", "2020-01-07"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "marts refreshed for 7 days" in result.output
    result = runner.invoke(warehouse, ["marts", "refresh"])
    assert "marts refreshed for 0 days" in result.output
    result = runner.invoke(warehouse, ["marts", "refresh", "--start", "2020-01-02",
                                       "--end", "2020-01-01"])  # fmt: skip
    assert result.exit_code == 2 and "after --end" in result.output
    assert _mart_snapshot(loaded_sample) == before
