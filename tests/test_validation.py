"""Schema validation: every violation found, each named by its JSON path."""

import copy

import pytest

from etl.source.validation import RecordRejected, decode, validate

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


def _decode_errors(raw):
    with pytest.raises(RecordRejected) as rejected:
        decode(raw)
    return [(error.path, error.message) for error in rejected.value.errors]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"id": "1", "email": "a@b.c", "id": "2"}', [("$", "duplicate key 'id' in one object")]),
        (
            b'{"purchases": {"products": [{"sku": 1}, {"sku": 2, "price": "1", "sku": 3}]}}',
            [("$.purchases.products[1]", "duplicate key 'sku' in one object")],
        ),
        # the same key written two ways is still the same key
        (b'{"a\\u0022b": 1, "a\\"b": 2}', [("$", "duplicate key 'a\"b' in one object")]),
        (b'{"a": 1, "b": {"a": 1, "a": 1}, "a": 2}', [
            ("$", "duplicate key 'a' in one object"),
            ("$.b", "duplicate key 'a' in one object"),
        ]),
    ],
    ids=["top-level", "nested", "escaped-quote", "two-levels"],
)  # fmt: skip
def test_duplicate_keys_are_rejected_with_the_key_and_its_path(raw, expected):
    assert _decode_errors(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "say \\"hi\\": \\"a\\"", "city": "x\\u0022y", "b": ["\\"", "\\\\"]}',
        b'{"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]}',
        b'{"address": "1 Road\\nTown", "note": "\\\\u0022 is a quote, \\\\u0000 a NUL"}',
    ],
    ids=["quotes-in-values", "same-key-in-different-objects", "escaped-backslashes"],
)
def test_repeated_names_in_different_places_are_not_duplicates(raw):
    assert decode(raw) is not None


def test_nul_character_is_rejected_where_it_is():
    assert _decode_errors(b'{"first_name": "a\\u0000b", "x": ["ok", "\\u0000"]}') == [
        ("$.first_name", "contains a NUL character (\\u0000), which the warehouse cannot store"),
        ("$.x[1]", "contains a NUL character (\\u0000), which the warehouse cannot store"),
    ]


@pytest.mark.parametrize(
    ("depth", "message"),
    [(300, "JSON nested more than 255 levels deep"), (5000, "malformed JSON: depth limit")],
)
def test_deeply_nested_json_is_rejected(depth, message):
    raw = b'{"sku": ' + b"[" * depth + b"]" * depth + b"}"
    [(path, reason)] = _decode_errors(raw)
    assert path == "$" and reason.startswith(message)


def test_a_huge_value_is_not_repeated_whole_in_the_reason():
    record = {"sku": [[1, 2, 3]] * 100_000, "price": "1.00", "category": "x", "popularity": 0.5}
    [(path, message)] = _errors(record, "products")
    assert path == "$.sku"
    assert len(message) < 600 and message.endswith("characters cut)")
