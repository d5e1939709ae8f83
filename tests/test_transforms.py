"""Each dataset's pure transform (to_staging) and the registry's facts, without a database."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from etl.datasets import DATASETS, customers, dataset, erasure_requests, products, transactions
from etl.loading.dataset import CustomerErased, LoadContext, TempTable
from etl.privacy.erasure import ErasedCustomers
from etl.privacy.pseudonym import customer_key
from etl.source import landing
from etl.source.validation import RecordRejected
from tests import landing_zone as lz

KEY = b"unit-test-key"
CONTEXT = LoadContext(pseudonym_key=KEY)


def _rows(module, record, context=CONTEXT, line=7) -> dict[str, list[dict]]:
    """to_staging's rows, per staging table, as {column: value} (file_number aside)."""
    tables: dict[str, TempTable] = {table.name: table for table in module.DATASET.staging}
    rows: dict[str, list[dict]] = {}
    for table, row in module.to_staging(record, line, context):
        columns = tables[table].columns[1:]
        assert len(row) == len(columns), table
        rows.setdefault(table, []).append(dict(zip(columns, row, strict=True)))
    return rows


def _rejected_fields(module, record) -> list[str]:
    with pytest.raises(RecordRejected) as rejected:
        list(module.to_staging(record, 1, CONTEXT))
    return [error.path for error in rejected.value.errors]


def test_a_customer_is_cleaned_and_pseudonymised():
    record = lz.customer(
        " 067318 ", email=" Person@Example.COM ", postcode="e71ns", city="  Emer   Ville "
    )
    (row,) = _rows(customers, record)["stg_customers"]
    assert row["source_line"] == 7
    assert row["customer_id"] == "067318"
    assert row["customer_key"] == customer_key("067318", KEY)
    assert row["email"] == "person@example.com"
    assert (row["postcode"], row["postcode_district"]) == ("E7 1NS", "E7")
    assert row["city"] == "Emer Ville"
    assert row["phone_number"] == "+448081570808" and row["phone_number_is_e164"] is True
    assert row["date_of_birth"] == date(1980, 2, 29)
    assert row["last_change"] == date(2020, 1, 3)


def test_a_customer_with_a_bad_email_and_date_is_rejected_naming_both_fields():
    record = lz.customer(email="not-an-address", date_of_birth="0000-01-01")
    assert _rejected_fields(customers, record) == ["$.email", "$.date_of_birth"]


def test_an_erased_customer_is_not_staged():
    erased = ErasedCustomers(frozenset({customer_key("067318", KEY)}))
    context = LoadContext(pseudonym_key=KEY, erased=erased)
    with pytest.raises(CustomerErased):
        list(customers.to_staging(lz.customer("067318"), 1, context))


def test_a_transaction_and_its_lines():
    record = lz.transaction(lines=((99096, 2, "21.00"), (10, 1, "3.50")))
    record["purchases"]["products"][1]["quantity"] = record["purchases"]["products"][1].pop(
        "quanitity"
    )
    rows = _rows(transactions, record)
    (stored,) = rows["stg_transactions"]
    assert stored["transaction_time"] == datetime(2020, 1, 1, 0, 42, 43, 585342)
    assert stored["customer_key"] == customer_key("067318", KEY)
    assert (stored["delivery_postcode"], stored["delivery_postcode_district"]) == (
        "D06 EHHA",
        "D06",
    )
    assert Decimal(stored["total_cost"]) == Decimal("45.50")
    # both spellings of quantity read; lines numbered from 1 in the source's order
    assert [(i["line_number"], i["sku"], i["quantity"]) for i in rows["stg_transaction_items"]] == [
        (1, 99096, 2),
        (2, 10, 1),
    ]


def test_totals_that_do_not_add_up_are_rejected_line_by_line():
    record = lz.transaction(lines=((99096, 2, "21.00"), (10, 1, "3.50")))
    record["purchases"]["products"][0]["total"] = "41.00"  # not 2 x 21.00
    record["purchases"]["total_cost"] = "100.00"  # not the sum of the lines
    assert _rejected_fields(transactions, record) == [
        "$.purchases.products[0].total",
        "$.purchases.total_cost",
    ]


def test_an_erased_customers_transaction_is_staged_without_its_address():
    erased = ErasedCustomers(frozenset({customer_key("067318", KEY)}))
    context = LoadContext(pseudonym_key=KEY, erased=erased)
    (stored,) = _rows(transactions, lz.transaction(), context)["stg_transactions"]
    assert stored["delivery_address"] is None and stored["delivery_postcode"] is None
    assert stored["delivery_city"] == "Mariastad"  # an area, kept for the sales figures


def test_a_product_is_cleaned():
    (row,) = _rows(products, lz.product(99096.0, name="  Vitamin   C "))["stg_products"]
    assert row["sku"] == 99096 and isinstance(row["sku"], int)
    assert row["name"] == "Vitamin C"


def test_repeated_erasure_requests_share_an_id():
    request = {"customer-id": " 067318", "email": "Person067318@example.com"}
    (first,) = _rows(erasure_requests, request)["stg_erasure_requests"]
    (again,) = _rows(erasure_requests, dict(request, email=" person067318@EXAMPLE.com"))[
        "stg_erasure_requests"
    ]
    assert first["request_id"] == again["request_id"]
    assert first["customer_id"] == "067318" and first["email"] == "person067318@example.com"


def test_the_registry_covers_the_landing_zone_in_load_order():
    assert tuple(d.name for d in DATASETS) == landing.DATASETS
    assert dataset("transactions") is transactions.DATASET
    with pytest.raises(ValueError, match="unknown dataset 'orders'"):
        dataset("orders")


def test_every_subject_field_is_found_in_a_line_that_does_not_parse():
    """The quarantine's erasure finds customers in raw lines by the datasets' subject fields."""
    erased = ErasedCustomers(frozenset({customer_key("067318", KEY)}))
    for subject_field in (d.subject_field for d in DATASETS if d.subject_field):
        line = f'{{"{subject_field}": " 067318 ", "broken'.encode()
        assert erased.covers_raw(line, KEY), subject_field
