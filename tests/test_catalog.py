"""The tables as the database's catalog describes them: every analytics column has a description,
and each landing folder's rows are counted in its dataset's table."""

from datetime import date

import pytest

from etl.inspection import catalog
from tests import landing_zone as lz
from tests.conftest import load


def test_every_column_of_the_tables_the_catalog_shows_is_described(conn):
    described = conn.execute(
        """
        SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'warehouse' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        ORDER BY 1
        """
    ).fetchall()
    tables = {table for (table,) in described} | set(catalog.TABLES.values())
    assert "warehouse.transaction_items" in tables
    undescribed = {
        f"{table}.{column.name}"
        for table in tables
        for column in catalog.columns(conn, table)
        if not column.description
    }
    assert undescribed == set()


def test_columns_come_in_order_with_type_and_nullability(conn):
    columns = catalog.columns(conn, "warehouse.customers")
    assert [(c.name, c.type, c.nullable) for c in columns[:4]] == [
        ("customer_key", "warehouse.pseudonym", False),
        ("city", "text", False),
        ("country", "text", False),
        ("postcode_district", "text", True),
    ]


@pytest.mark.parametrize("dataset", sorted(catalog.TABLES))
def test_rows_are_counted_by_landing_folder(dataset, tmp_path, database_url, conn):
    lz.write(tmp_path, "products", [lz.product(1), lz.product(2)])
    lz.write(tmp_path, "customers", [lz.customer("000001"), lz.customer("000002")], hour=1)
    # customer 000001 again, newer: hour 01 keeps one row, hour 02 has the other
    lz.write(tmp_path, "customers", [lz.customer("000001", last_change="2020-01-09")], hour=2)
    sales = [lz.transaction(f"00000000-0000-4000-8000-00000000000{n}") for n in range(3)]
    lz.write(tmp_path, "transactions", sales, hour=1)
    request = {"customer-id": "000002", "email": "person000002@example.com"}
    lz.write(tmp_path, "erasure-requests", [request], hour=0)
    assert load(database_url, tmp_path).ok

    counted = catalog.rows_by_folder(conn, dataset, [date(2020, 1, 1)])

    expected = {
        "products": {(date(2020, 1, 1), 0): 2},
        # customer 2 erased: hour 01 is left with nothing, hour 02 holds customer 1
        "customers": {(date(2020, 1, 1), 1): 0, (date(2020, 1, 1), 2): 1},
        "transactions": {(date(2020, 1, 1), 1): 3},
        "erasure-requests": {(date(2020, 1, 1), 0): 1},
    }
    assert counted == expected[dataset]
    assert catalog.rows_by_folder(conn, dataset, [date(2020, 1, 2)]) == {}
