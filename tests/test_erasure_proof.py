"""The proof of erasure: residues fail it, values other customers hold too do not."""

import json

import psycopg
import pytest
from click.testing import CliRunner

from etl.cli import main as warehouse
from etl.privacy.erasure_proof import (
    ErasedPerson,
    Identifier,
    Residue,
    SharedValue,
    attribute,
    erased_people,
)
from etl.settings import PROJECT_DIR
from tests.conftest import TEST_KEY, settings_for

SHIPPED_SAMPLE = PROJECT_DIR / "raw_data"
ADDRESS = Identifier("address", ("1 mill lane",))
PERSON = ErasedPerson("000001", "key-of-000001", {ADDRESS}, {ADDRESS: {"000002", "000003"}})
ALONE = ErasedPerson("000001", "key-of-000001", {ADDRESS})


@pytest.mark.parametrize(
    ("person", "rows", "expected"),
    [
        pytest.param(
            PERSON,
            [("(000001,1 mill lane)", frozenset({"000001"}))],
            [Residue("key-of-000001", "address", "here", 1)],
            id="own-row-by-id",
        ),
        pytest.param(
            PERSON,
            [("(key-of-000001,1 mill lane)", frozenset({"key-of-000001"}))],
            [Residue("key-of-000001", "address", "here", 1)],
            id="own-row-by-pseudonym",
        ),
        pytest.param(
            ALONE,
            [
                ("(000002,1 mill lane)", frozenset({"000002"})),
                ("(000003,1 mill lane)", frozenset({"000003"})),
                ("(000003,1 mill lane)", frozenset({"000003"})),
            ],
            [SharedValue("key-of-000001", "address", "here", 3, 2)],
            id="other-customers-rows",
        ),
        pytest.param(
            PERSON,
            [("a payload: 1 mill lane", frozenset())],
            [SharedValue("key-of-000001", "address", "here", 1, 2)],
            id="unattributed-held-by-others-in-landing-zone",
        ),
        pytest.param(
            ALONE,
            [("a payload: 1 mill lane", frozenset())],
            [Residue("key-of-000001", "address", "here", 1)],
            id="unattributed-held-by-nobody-else",
        ),
        pytest.param(ALONE, [("21 mill lane", frozenset())], [], id="only-whole-terms-match"),
    ],
)
def test_each_match_is_judged_by_whom_the_row_belongs_to(person, rows, expected):
    assert list(attribute(person, "here", rows)) == expected


def _invoke(args, database_url, tmp_path):
    env = {
        "DATABASE_URL": database_url,
        "WAREHOUSE_HOME": str(tmp_path / "home"),
        "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY.decode(),
    }
    return CliRunner().invoke(warehouse, args, env=env, catch_exceptions=False)


@pytest.fixture
def shipped_sample_loaded(new_database, tmp_path) -> str:
    """`make run` on the shipped sample: a fresh warehouse holding it, erasures carried out."""
    url = new_database()
    result = _invoke(["run", "--raw-data", str(SHIPPED_SAMPLE)], url, tmp_path)
    assert result.exit_code == 0, result.output
    return url


def test_verify_erasure_passes_right_after_loading_the_shipped_sample(
    shipped_sample_loaded, tmp_path
):
    args = ["verify-erasure", "--raw-data", str(SHIPPED_SAMPLE)]
    result = _invoke([*args, "--json"], shipped_sample_loaded, tmp_path)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["erased_customers"] > 0
    assert report["residue"] == []
    # Streets recur, but the stored addresses are ciphertext now (etl/encryption/crypto.py): no
    # table holds one in plain text, the erased person's or anyone's.
    assert report["shared"] == [] and report["data_keys_remaining"] == []
    text = _invoke(args, shipped_sample_loaded, tmp_path).output
    assert "RESIDUE" not in text and "no residue" in text


def test_a_planted_row_of_an_erased_customer_is_a_residue_beside_the_shared_values(
    shipped_sample_loaded, tmp_path
):
    settings = settings_for(shipped_sample_loaded, SHIPPED_SAMPLE)
    with psycopg.connect(shipped_sample_loaded) as conn:
        people = erased_people(conn, settings)
        person = next(p for p in people if any(i.kind == "address" for i in p.identifiers))
        address = next(i.terms[0] for i in person.identifiers if i.kind == "address")
        # A plain-text column of a row that names its customer: the erased customer's own row
        # back, with their address (a residue), and another customer's row holding it (shared).
        conn.execute(
            """
            INSERT INTO warehouse.customers (customer_key, city, country, segment, last_change,
                                             source_file, source_line)
            VALUES (%s, 'x', 'y', %s, '2020-01-01', 'planted', 1)
            """,
            (person.customer_key, address),
        )
        conn.execute(
            """
            UPDATE warehouse.customers SET segment = %s
            WHERE customer_key = (SELECT min(customer_key) FROM warehouse.customers
                                  WHERE customer_key <> %s)
            """,
            (address, person.customer_key),
        )
    args = ["verify-erasure", "--raw-data", str(SHIPPED_SAMPLE)]
    result = _invoke([*args, "--json"], shipped_sample_loaded, tmp_path)
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["residue"] == [
        {
            "customer_key": person.customer_key,
            "kind": "address",
            "place": "table warehouse.customers",
            "count": 1,
        }
    ]
    # the other customer's row at that address is a shared value, not residue
    assert [(s["customer_key"], s["place"]) for s in report["shared"]] == [
        (person.customer_key, "table warehouse.customers")
    ]
    text = _invoke(args, shipped_sample_loaded, tmp_path).output
    assert (
        f"RESIDUE table warehouse.customers: 1 x address of erased customer "
        f"{person.customer_key}\n" in text
    )
    assert "SHARED table warehouse.customers: 1 x address" in text
    assert "1 residues found" in text
