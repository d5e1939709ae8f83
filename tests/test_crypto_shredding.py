"""Erasure that reaches backups: personal data stored as ciphertext under keys of each
customer's, kept in a keystore apart; erasure destroys the key, whatever copies remain."""

import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import psycopg
import pytest
from click.testing import CliRunner

from etl.cli import main as warehouse
from etl.encryption import crypto, keystore
from etl.encryption.crypto import EnvironmentMasterKey
from etl.encryption.keystore import KeyRing, Keystore, MasterKeyMismatch, url_beside
from etl.loading import quarantine
from etl.privacy.pseudonym import customer_key
from etl.settings import DEVELOPMENT_MASTER_KEY, PROJECT_DIR, SQL_SCRIPTS_DIR, Settings
from etl.warehouse import monthly_partitions
from etl.warehouse.migrations import available, migrate
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, decrypted, dump_database, load, postgres_tool

NEW_MASTER_KEY = "cd" * 32


def _invoke(args, database_url, tmp_path, **env):
    environment = {
        "DATABASE_URL": database_url,
        "WAREHOUSE_HOME": str(tmp_path / "home"),
        "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY.decode(),
        **env,
    }
    return CliRunner().invoke(warehouse, args, env=environment, catch_exceptions=False)


def _customer_records(root):
    """Every customer record of the landing zone, by id."""
    records = {}
    for path in sorted(root.rglob("customers.json*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as handle:
            for line in handle:
                record = json.loads(line)
                records[record["id"].strip()] = record
    return records


def _identifiers(record):
    """What names a person in plain text: e-mail, phone, street address, name with birth date."""
    values = (record.get("email"), record.get("address"), record.get("phone_number"))
    return {value.strip().lower() for value in values if isinstance(value, str) and value.strip()}


def _dump(url, path):
    subprocess.run(
        [postgres_tool(url, "pg_dump"), "--format=custom", "--file", str(path), url], check=True
    )


def _dump_text(url):
    return dump_database(url).lower()


def test_a_dump_of_the_warehouse_holds_no_personal_data_in_plain_text(loaded_sample, sample_data):
    dump = _dump_text(loaded_sample)
    assert "copy pii.customers" in dump  # the rows are there, as ciphertext
    records = _customer_records(sample_data)
    assert len(records) > 700
    for customer_id, record in records.items():
        for identifier in _identifiers(record):
            assert identifier not in dump, (customer_id, identifier)
        if record.get("last_name") and record.get("date_of_birth"):
            for line in dump.splitlines():
                assert not (
                    record["last_name"].strip().lower() in line and record["date_of_birth"] in line
                ), customer_id


def test_a_backup_restored_after_erasure_shows_nothing_of_the_erased(
    new_database, sample_data, tmp_path
):
    url = new_database()
    assert load(url, sample_data, datasets=("products", "customers", "transactions")).ok
    backup = tmp_path / "before-erasure.dump"
    _dump(url, backup)
    assert load(url, sample_data, datasets=("erasure-requests",)).ok
    with psycopg.connect(url) as conn:
        erased = [r[0] for r in conn.execute("SELECT customer_id FROM privacy.erased_customers")]
        kept = conn.execute("SELECT customer_id FROM pii.customers ORDER BY 1 LIMIT 1").fetchone()
    assert len(erased) > 10
    restored = new_database()
    subprocess.run(
        [postgres_tool(url, "pg_restore"), "--no-owner", "--dbname", restored, str(backup)],
        check=True,
    )
    records = _customer_records(sample_data)
    live_keystore = url_beside(url)

    for customer_id in erased:
        # the backup still holds their row, as ciphertext
        with psycopg.connect(restored) as conn:
            assert conn.execute(
                "SELECT count(*) FROM pii.customers WHERE customer_id = %s", (customer_id,)
            ).fetchone() == (1,)
        result = _invoke(
            ["subject-access", customer_id, "--json"],
            restored,
            tmp_path,
            WAREHOUSE_KEYSTORE_URL=live_keystore,
        )
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["status"] == "erased: data key destroyed"
        assert report["data_key"] == "destroyed or never made"
        assert "customer" not in report and "delivery_addresses" not in report
        for identifier in _identifiers(records[customer_id]):
            assert identifier not in result.output.lower()

    result = _invoke(
        ["subject-access", kept[0], "--json"], restored, tmp_path,
        WAREHOUSE_KEYSTORE_URL=live_keystore,
    )  # fmt: skip
    report = json.loads(result.output)
    record = records[kept[0]]
    assert report["status"] == "present"
    assert report["customer"]["email"] == record["email"].strip().lower()
    assert report["customer"]["first_name"] == record["first_name"].strip()
    assert report["customer"]["date_of_birth"] == record["date_of_birth"]
    assert report["transactions"] and all(t["items"] for t in report["transactions"])
    assert len(report["delivery_addresses"]) == len(report["transactions"])
    text = _invoke(
        ["subject-access", kept[0]], restored, tmp_path, WAREHOUSE_KEYSTORE_URL=live_keystore
    )
    assert f"customer {kept[0]} " in text.output and record["email"].strip().lower() in text.output


def _erasure_zone(root, customers=12):
    ids = [f"{n:06d}" for n in range(1, customers + 1)]
    lz.write(root, "customers", [lz.customer(i) for i in ids])
    lz.write(
        root,
        "transactions",
        [lz.transaction(f"00000000-0000-4000-8000-{n:012d}", customer_id=i)
         for n, i in enumerate(ids, start=1)],
        hour=1,
    )  # fmt: skip
    erased = ids[::2]
    for hour, customer_id in enumerate(erased):
        lz.write(
            root,
            "erasure-requests",
            [{"customer-id": customer_id, "email": f"person{customer_id}@example.com"}],
            day="2020-01-02",
            hour=hour,
        )
    return ids, erased


def _check_no_half_erasure(url, ids, pseudonym_key=TEST_KEY):
    """No rows without a pending or done key destruction; no key destroyed unrecorded."""
    with (
        psycopg.connect(url) as conn,
        keystore.beside(conn, Settings.from_env({}).master) as keys,
    ):
        tombstones = dict(
            conn.execute("SELECT customer_id, key_destroyed_at FROM privacy.erased_customers")
        )
        stored = {r[0] for r in conn.execute("SELECT customer_id FROM pii.customers")}
        addressed = {r[0] for r in conn.execute("SELECT customer_id FROM pii.delivery_addresses")}
        with_key = keys.customer_keys([customer_key(i, pseudonym_key) for i in ids])
    for customer_id in ids:
        has_key = customer_key(customer_id, pseudonym_key) in with_key
        if customer_id in tombstones:
            assert customer_id not in stored | addressed, customer_id
            assert (tombstones[customer_id] is None) or not has_key, customer_id
        else:
            assert has_key and customer_id in stored, customer_id
    return tombstones, with_key


def test_a_failure_between_the_deletion_and_the_key_leaves_it_pending_and_the_next_run_ends_it(
    tmp_path, database_url, monkeypatch
):
    ids, erased = _erasure_zone(tmp_path)
    assert load(database_url, tmp_path, datasets=("customers", "transactions")).ok

    def crash(self, customer_keys):
        raise RuntimeError("killed between the warehouse's commit and the keystore")

    monkeypatch.setattr(Keystore, "destroy_customer_keys", crash)
    with pytest.raises(RuntimeError, match="killed between"):
        load(database_url, tmp_path, datasets=("erasure-requests",))
    tombstones, with_key = _check_no_half_erasure(database_url, ids)
    assert set(tombstones) == set(erased) and set(tombstones.values()) == {None}
    assert {customer_key(i, TEST_KEY) for i in erased} <= set(with_key)  # pending

    monkeypatch.undo()
    assert load(database_url, tmp_path, datasets=("products",)).ok  # any run completes it
    tombstones, with_key = _check_no_half_erasure(database_url, ids)
    assert None not in tombstones.values()
    assert set(with_key) == {customer_key(i, TEST_KEY) for i in ids if i not in erased}


def test_killing_the_erasure_at_random_points_never_leaves_half_an_erasure(tmp_path, database_url):
    ids, erased = _erasure_zone(tmp_path)
    assert load(database_url, tmp_path, datasets=("customers", "transactions")).ok
    env = {
        "DATABASE_URL": database_url,
        "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY.decode(),
        "PATH": os.environ.get("PATH", ""),
    }
    command = [sys.executable, "-m", "etl.erasure_requests_etl", "--raw-data", str(tmp_path)]
    rng = random.Random(15)
    for _ in range(6):
        process = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(rng.uniform(0.3, 3.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        _check_no_half_erasure(database_url, ids)
    subprocess.run(command, cwd=PROJECT_DIR, env=env, check=True, capture_output=True)
    tombstones, with_key = _check_no_half_erasure(database_url, ids)
    assert set(tombstones) == set(erased) and None not in tombstones.values()
    assert set(with_key) == {customer_key(i, TEST_KEY) for i in ids if i not in erased}


def test_verify_erasure_fails_while_a_data_key_of_an_erased_customer_remains(
    tmp_path, database_url
):
    landing = tmp_path / "landing"
    _, erased = _erasure_zone(landing, customers=2)
    assert _invoke(["run", "--raw-data", str(landing)], database_url, tmp_path).exit_code == 0
    clean = _invoke(["verify-erasure", "--raw-data", str(landing)], database_url, tmp_path)
    assert clean.exit_code == 0, clean.output
    # e.g. the keystore restored from a backup taken before the erasure
    with (
        psycopg.connect(database_url) as conn,
        keystore.beside(conn, Settings.from_env({}).master) as keys,
    ):
        keys.create_customer_keys([customer_key(erased[0], TEST_KEY)])
    found = _invoke(["verify-erasure", "--raw-data", str(landing)], database_url, tmp_path)
    assert found.exit_code == 1
    assert "KEY REMAINS the keystore still holds the data key of erased " in found.output
    assert customer_key(erased[0], TEST_KEY) in found.output


def test_quarantined_payloads_past_the_retention_cannot_be_decrypted(tmp_path, database_url):
    landing = tmp_path / "landing"
    lz.write(landing, "customers", [b'{"id": "000001", "email": "old@example.com" broken'])
    assert _invoke(["run", "--raw-data", str(landing)], database_url, tmp_path).exit_code == 0
    old = "date=2020-01-01/hour=00/customers.json.gz"
    shown = _invoke(["quarantine", "show", old, "1"], database_url, tmp_path).output
    assert 'payload:\n{"id": "000001", "email": "old@example.com" broken' in shown
    with psycopg.connect(database_url) as conn:
        [(sealed, day)] = conn.execute("SELECT payload, key_day FROM ops.quarantine").fetchall()
        with keystore.beside(conn, Settings.from_env({}).master) as keys:
            day_key = KeyRing(keys).quarantine_day(day)
            # the retention passes: 31 days later the day's key goes
            assert quarantine.expire(conn, keys, 30, on=day + timedelta(days=31)) == [day]
            assert keys.quarantine_key(day) is None
    # what a backup taken before still holds cannot be opened without that key
    assert crypto.decrypt(day_key, sealed, quarantine._aad(old, 1)).startswith('{"id"')
    with psycopg.connect(database_url) as conn:
        assert conn.execute(
            "SELECT payload, errors IS NOT NULL FROM ops.quarantine"
        ).fetchone() == (
            None,
            True,
        )
    shown = _invoke(["quarantine", "show", old, "1"], database_url, tmp_path).output
    assert "payload: destroyed (the key of the lines quarantined on" in shown
    assert "old@example.com" not in shown and "reasons:" in shown
    # a line quarantined since shows
    lz.write(landing, "customers", [b"{new line"], hour=1)
    assert _invoke(["run", "--raw-data", str(landing)], database_url, tmp_path).exit_code == 0
    new = "date=2020-01-01/hour=01/customers.json.gz"
    assert (
        "payload:\n{new line"
        in _invoke(["quarantine", "show", new, "1"], database_url, tmp_path).output
    )
    expired = _invoke(["quarantine", "expire"], database_url, tmp_path)
    assert "0 day keys destroyed (retention 30 days)" in expired.output


def test_after_rotating_the_master_key_a_run_with_the_old_one_refuses_and_says_why(
    tmp_path, database_url
):
    landing = tmp_path / "landing"
    lz.write(landing, "customers", [lz.customer("000001"), b"{broken"])
    assert _invoke(["run", "--raw-data", str(landing)], database_url, tmp_path).exit_code == 0
    rotated = _invoke(
        ["rotate-master-key", "--new-key-env", "NEW_KEY"], database_url, tmp_path,
        NEW_KEY=NEW_MASTER_KEY,
    )  # fmt: skip
    assert rotated.exit_code == 0, rotated.output
    assert "keystore.customer_keys: 1 keys re-wrapped" in rotated.output
    new_fingerprint = EnvironmentMasterKey.parse(NEW_MASTER_KEY).fingerprint
    old_fingerprint = EnvironmentMasterKey.parse(DEVELOPMENT_MASTER_KEY).fingerprint
    refused = _invoke(["run", "--raw-data", str(landing)], database_url, tmp_path)
    assert refused.exit_code == 1
    assert "WAREHOUSE_MASTER_KEY is not the key this warehouse was built with" in refused.output
    assert f"expected key fingerprint {new_fingerprint}" in refused.output
    assert f"this key's is {old_fingerprint}" in refused.output
    # the keystore refuses it too, on its own (a warehouse that never recorded the key)
    with psycopg.connect(database_url) as conn, pytest.raises(MasterKeyMismatch) as mismatch:
        keystore.beside(conn, EnvironmentMasterKey.parse(DEVELOPMENT_MASTER_KEY))
    assert f"wrapped by the master key with fingerprint {new_fingerprint}" in str(mismatch.value)
    with_new = {"WAREHOUSE_MASTER_KEY": NEW_MASTER_KEY}
    run = _invoke(["run", "--raw-data", str(landing)], database_url, tmp_path, **with_new)
    assert run.exit_code == 0, run.output
    report = _invoke(["subject-access", "000001", "--json"], database_url, tmp_path, **with_new)
    assert json.loads(report.output)["customer"]["email"] == "person000001@example.com"
    shown = _invoke(
        ["quarantine", "show", "date=2020-01-01/hour=00/customers.json.gz", "2"],
        database_url, tmp_path, **with_new,
    )  # fmt: skip
    assert "payload:\n{broken" in shown.output


def test_a_warehouse_from_before_090_is_encrypted_in_place(new_database, tmp_path):
    url = new_database()
    scripts = tmp_path / "sql-scripts"
    shutil.copytree(SQL_SCRIPTS_DIR, scripts)
    for migration in available():
        if migration.version >= 90:
            (scripts / migration.name).unlink()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, scripts)
        monthly_partitions.ensure(conn, [date(2020, 1, 1)])
    with psycopg.connect(url) as conn:
        conn.execute(
            """
            INSERT INTO pii.customers (customer_id, customer_key, first_name, last_name,
                date_of_birth, email, phone_number, address, postcode, city, country,
                last_change, source_file, source_line)
            VALUES ('000001', %s, 'Ada', 'Lovelace', '1815-12-10', 'ada@example.com',
                    '+441144960607', '12 St James''s Square', 'SW1Y 4JH', 'London', 'UK',
                    '2020-01-01', 'f', 1)
            """,
            (customer_key("000001", TEST_KEY),),
        )
        conn.execute(
            """
            INSERT INTO warehouse.transaction_ids VALUES
                ('00000000-0000-4000-8000-000000000001', '2020-01-01 10:00', 'f', 1);
            INSERT INTO warehouse.transactions (transaction_id, customer_key, transaction_time,
                delivery_city, delivery_country, total_cost, source_file, source_line)
            VALUES ('00000000-0000-4000-8000-000000000001', %s, '2020-01-01 10:00', 'London',
                    'UK', 1, 'f', 1);
            INSERT INTO pii.delivery_addresses VALUES ('00000000-0000-4000-8000-000000000001',
                '2020-01-01 10:00', '000001', '1 Delivery Lane', 'SW1A 1AA', 'London', 'UK');
            INSERT INTO ops.quarantine VALUES ('customers', '2020-01-01', 'q', 1, '[]',
                '{"id": "000001", "email": "ada@example.com"');
            """.replace("%s", "'" + customer_key("000001", TEST_KEY) + "'")
        )
        conn.commit()
    result = _invoke(["db", "migrate"], url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "090_personal_data_encrypted.sql" in result.output
    assert "personal data encrypted: now run VACUUM FULL" in result.output
    with psycopg.connect(url) as conn:
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema IN "
                "('pii', 'ops') AND column_name LIKE '%%plaintext'"
            )
        }
        assert columns == set()
        [customer] = decrypted(conn, "pii.customers")
        assert (customer["first_name"], customer["email"], customer["date_of_birth"]) == (
            "Ada", "ada@example.com", "1815-12-10",
        )  # fmt: skip
        [address] = decrypted(conn, "pii.delivery_addresses")
        assert (address["address"], address["postcode"]) == ("1 Delivery Lane", "SW1A 1AA")
        [line] = decrypted(conn, "ops.quarantine")
        assert line["payload"] == '{"id": "000001", "email": "ada@example.com"'
        assert customer_key("000001", TEST_KEY) in line["subjects"]
    dump = _dump_text(url)
    for plain in ("ada@example.com", "lovelace", "delivery lane", "+441144960607"):
        assert plain not in dump
    again = _invoke(["db", "migrate"], url, tmp_path)
    assert again.output.strip() == "up to date"
