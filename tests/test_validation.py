"""Schema validation: every violation found, each named by its JSON path."""

import copy

import pytest

from etl.validation import RecordRejected, decode, validate

TRANSACTION = {
    "transaction_id": "fd386f34-86e2-469a-90d1-2cf3f6c75a96",
    "transaction_time": "2020-01-01T00:42:43.585342",
    "customer_id": "067318",
    "delivery_address": {
        "address": "17 Heffron Street",
        "postcode": "D06 EHHA",
        "city": "Mariastad",
        "country": "Republic of Ireland",
    },
    "purchases": {
        "products": [{"sku": 99096, "quanitity": 2, "price": "21.00", "total": "42.00"}],
        "total_cost": "42.00",
    },
}


def _errors(record, dataset="transactions"):
    with pytest.raises(RecordRejected) as rejected:
        validate(record, dataset)
    return {(error.path, error.message) for error in rejected.value.errors}


def test_valid_transaction_passes():
    assert validate(copy.deepcopy(TRANSACTION), "transactions")["customer_id"] == "067318"


def test_correctly_spelt_quantity_is_accepted_too():
    record = copy.deepcopy(TRANSACTION)
    record["purchases"]["products"][0]["quantity"] = record["purchases"]["products"][0].pop(
        "quanitity"
    )
    validate(record, "transactions")


def test_both_spellings_of_quantity_are_rejected():
    record = copy.deepcopy(TRANSACTION)
    record["purchases"]["products"][0]["quantity"] = 2
    paths = {path for path, _ in _errors(record)}
    assert paths == {"$.purchases.products[0]"}


def test_every_violation_is_reported_with_its_path():
    record = copy.deepcopy(TRANSACTION)
    record["purchases"]["products"][0]["sku"] = "abc"
    record["purchases"]["total_cost"] = 42.0
    del record["customer_id"]
    record["coupon"] = "X"
    paths = {path for path, _ in _errors(record)}
    assert paths == {"$.purchases.products[0].sku", "$.purchases.total_cost", "$"}
    messages = " ".join(message for _, message in _errors(record))
    assert "customer_id" in messages and "coupon" in messages


def test_impossible_date_is_rejected():
    customer = {
        "id": "067318", "first_name": "A", "last_name": "B", "date_of_birth": "2020-02-30",
        "email": None, "phone_number": None, "address": "1 Road", "city": "C",
        "country": "United Kingdom", "postcode": "E7 1NS", "last_change": "2020-01-03",
        "segment": None,
    }  # fmt: skip
    assert {path for path, _ in _errors(customer, "customers")} == {"$.date_of_birth"}


def test_customer_id_must_be_a_string_so_leading_zeros_survive():
    record = copy.deepcopy(TRANSACTION)
    record["customer_id"] = 67318
    assert {path for path, _ in _errors(record)} == {"$.customer_id"}


@pytest.mark.parametrize(
    "raw",
    [b'{"sku": 1', b"NaN", b'{"price": Infinity}', b"\xff\xfe not utf-8"],
    ids=["truncated", "nan", "infinity", "invalid-utf8"],
)
def test_malformed_json_is_rejected(raw):
    with pytest.raises(RecordRejected) as rejected:
        decode(raw)
    assert rejected.value.errors[0].path == "$"
    assert rejected.value.errors[0].message.startswith("malformed JSON")


def test_array_instead_of_object_is_rejected():
    assert {path for path, _ in _errors([1, 2], "products")} == {"$"}
