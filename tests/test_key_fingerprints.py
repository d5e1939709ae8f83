"""Key fingerprints: after a key rotation, nothing goes on with the old key."""

import hashlib
import re

import psycopg
import pytest
from click.testing import CliRunner

from api.server import main as api_server
from etl.cli import main as warehouse
from etl.encryption.key_fingerprints import KeyMismatch, ensure, fingerprint, replace
from etl.settings import Settings
from tests import landing_zone as lz
from tests.conftest import TEST_KEY

NEW_KEY = b"the-new-pseudonym-key-of-at-least-32-characters"


def _refusal(variable: str, expected: bytes, given: bytes) -> str:
    return (
        f"{variable} is not the key this warehouse was built with: expected key fingerprint "
        f"{fingerprint(expected)}, this key's is {fingerprint(given)}; after `warehouse "
        "rotate-key`, set the new key"
    )


def _invoke(command, args, database_url, tmp_path, key: bytes, **env):
    environ = {
        "DATABASE_URL": database_url,
        "WAREHOUSE_HOME": str(tmp_path / "home"),
        "WAREHOUSE_PSEUDONYM_KEY": key.decode(),
        **env,
    }
    return CliRunner().invoke(command, args, env=environ, catch_exceptions=False)


def test_a_fingerprint_tells_keys_apart_and_reveals_nothing_of_the_key():
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint(TEST_KEY))
    assert fingerprint(TEST_KEY) == fingerprint(TEST_KEY) != fingerprint(NEW_KEY)
    # not a plain hash of the key, which anyone could compute from a guessed key
    assert fingerprint(TEST_KEY) not in hashlib.sha256(TEST_KEY).hexdigest()


def test_the_first_use_records_the_key_and_a_replacement_takes_its_place(conn):
    ensure(conn, "some key", TEST_KEY, "SOME_KEY_VARIABLE")
    ensure(conn, "some key", TEST_KEY, "SOME_KEY_VARIABLE")
    with pytest.raises(KeyMismatch) as refused:
        ensure(conn, "some key", NEW_KEY, "SOME_KEY_VARIABLE")
    assert str(refused.value) == _refusal("SOME_KEY_VARIABLE", TEST_KEY, NEW_KEY)
    replace(conn, "some key", NEW_KEY)
    ensure(conn, "some key", NEW_KEY, "SOME_KEY_VARIABLE")
    recorded = conn.execute("SELECT fingerprint FROM ops.key_fingerprints WHERE name = 'some key'")
    assert recorded.fetchall() == [(fingerprint(NEW_KEY),)]


def test_a_fresh_warehouse_records_the_pseudonym_key_on_its_first_run(new_database, tmp_path):
    url = new_database()
    lz.write(tmp_path / "landing", "customers", [lz.customer("000001")])
    result = _invoke(
        warehouse, ["run", "--raw-data", str(tmp_path / "landing")], url, tmp_path, TEST_KEY
    )
    assert result.exit_code == 0, result.output
    with psycopg.connect(url) as conn:
        recorded = conn.execute("SELECT name, fingerprint FROM ops.key_fingerprints").fetchall()
    assert sorted(recorded) == [
        ("master", fingerprint(Settings.from_env({}).master.key)),
        ("pseudonym", fingerprint(TEST_KEY)),
    ]


def test_after_a_key_rotation_the_old_key_is_refused_everywhere_and_the_new_one_works(
    database_url, tmp_path
):
    landing = tmp_path / "landing"
    lz.write(landing, "customers", [lz.customer("000001")])
    lz.write(landing, "transactions", [lz.transaction(customer_id="000001")], hour=1)
    run = ["run", "--raw-data", str(landing)]
    assert _invoke(warehouse, run, database_url, tmp_path, TEST_KEY).exit_code == 0
    rotated = _invoke(
        warehouse,
        ["rotate-key"],
        database_url,
        tmp_path,
        TEST_KEY,
        WAREHOUSE_NEW_PSEUDONYM_KEY=NEW_KEY.decode(),
    )
    assert rotated.exit_code == 0, rotated.output

    refusal = _refusal("WAREHOUSE_PSEUDONYM_KEY", NEW_KEY, TEST_KEY)
    lz.write(landing, "customers", [lz.customer("000002")], hour=2)
    for args in (
        run,
        ["doctor", "--raw-data", str(landing)],
        ["erase", "--raw-data", str(landing)],
        ["status"],
    ):
        refused = _invoke(warehouse, args, database_url, tmp_path, TEST_KEY)
        assert refused.exit_code != 0, args
        assert refusal in refused.output, args
    api = _invoke(
        api_server,
        [],
        database_url,
        tmp_path,
        TEST_KEY,
        WAREHOUSE_API_TOKEN="a-token",
        WAREHOUSE_API_DATABASE_URL=None,
    )
    assert api.exit_code != 0 and refusal in api.output
    with psycopg.connect(database_url) as conn:
        customers = conn.execute("SELECT customer_id FROM pii.customers").fetchall()
    assert customers == [("000001",)]  # nothing loaded under the old key

    again = _invoke(warehouse, run, database_url, tmp_path, NEW_KEY)
    assert again.exit_code == 0, again.output
    doctor = _invoke(
        warehouse, ["doctor", "--raw-data", str(landing)], database_url, tmp_path, NEW_KEY
    )
    assert "is not the key" not in doctor.output
    with psycopg.connect(database_url) as conn:
        joined = conn.execute(
            "SELECT count(*) FROM warehouse.transactions JOIN warehouse.customers "
            "USING (customer_key)"
        ).fetchone()
    assert joined == (1,)  # the old customer's transaction still meets their record
