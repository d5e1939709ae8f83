"""The proof of erasure: residues fail it, values other customers hold too do not."""

import json

import psycopg
import pytest
from click.testing import CliRunner

from etl.cli import main as warehouse
from etl.erasure_proof import (
    ErasedPerson,
    Identifier,
    Residue,
    SharedValue,
    attribute,
    erased_people,
    find_residue,
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
    # The sample's streets recur: erased people's addresses are other customers' too.
    assert {shared["place"] for shared in report["shared"]} == {"table pii.delivery_addresses"}
    assert all(shared["other_customers"] > 0 for shared in report["shared"])
    text = _invoke(args, shipped_sample_loaded, tmp_path).output
    assert "RESIDUE" not in text
    assert "no residue (" in text and "other customer" in text


def test_a_planted_row_of_an_erased_customer_is_a_residue_beside_the_shared_values(
    shipped_sample_loaded, tmp_path
):
    settings = settings_for(shipped_sample_loaded, SHIPPED_SAMPLE)
    with psycopg.connect(shipped_sample_loaded) as conn:
        people = {person.customer_key: person for person in erased_people(conn, settings)}
        shared_before = find_residue(conn, settings).shared
        person = people[shared_before[0].customer_key]
        addresses = [i.terms[0] for i in person.identifiers if i.kind == "address"]
        # the erased customer's own delivery row back, for one of their transactions (kept under
        # the pseudonym), at their address as another customer's row spells it
        planted = conn.execute(
            """
            INSERT INTO pii.delivery_addresses
            SELECT t.transaction_id, t.transaction_time, %s, d.address, d.postcode, d.city,
                   d.country
            FROM warehouse.transactions t,
                 LATERAL (SELECT * FROM pii.delivery_addresses
                          WHERE lower(address) = ANY(%s) LIMIT 1) d
            WHERE t.customer_key = %s
            LIMIT 1
            """,
            (person.customer_id, addresses, person.customer_key),
        ).rowcount
    assert planted == 1
    args = ["verify-erasure", "--raw-data", str(SHIPPED_SAMPLE)]
    result = _invoke([*args, "--json"], shipped_sample_loaded, tmp_path)
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["residue"] == [
        {
            "customer_key": person.customer_key,
            "kind": "address",
            "place": "table pii.delivery_addresses",
            "count": 1,
        }
    ]
    # the other customers' rows at that address are still shared values, not residue
    assert [vars(shared) for shared in shared_before] == report["shared"]
    text = _invoke(args, shipped_sample_loaded, tmp_path).output
    assert (
        f"RESIDUE table pii.delivery_addresses: 1 x address of erased customer "
        f"{person.customer_key}\n" in text
    )
    assert f"SHARED table pii.delivery_addresses: {shared_before[0].count} x address" in text
    assert "1 residues found" in text
