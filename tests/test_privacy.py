"""Privacy: keyed pseudonyms, roles, complete erasure, no resurrection, proof, key rotation."""

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import replace

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from etl.encryption import keystore
from etl.encryption.key_rotation import rotate_key
from etl.privacy.erasure_proof import find_residue
from etl.privacy.landing_scrub import scrub_landing
from etl.privacy.pseudonym import customer_key, pseudonym
from etl.settings import (
    DEVELOPMENT_MASTER_KEY,
    DEVELOPMENT_PSEUDONYM_KEY,
    PROJECT_DIR,
    Settings,
    SettingsError,
)
from etl.source import landing
from tests import landing_zone as lz
from tests.conftest import (
    TEST_KEY,
    create_keystore,
    decrypted,
    load,
    settings_for,
    table_checksums,
)

ERASED_DAY_TOTALS = """
    SELECT transaction_time::date, count(*), sum(total_cost)
    FROM warehouse.transactions GROUP BY 1 ORDER BY 1
"""


def _erased_identifiers(sample_data, erased_ids):
    """E-mails, phones and street addresses of the erased customers, from the landing zone."""
    found = set()
    for landing_file in landing.discover(sample_data, ("customers", "transactions")):
        with gzip.open(landing_file.path, "rt") as handle:
            for line in handle:
                record = json.loads(line)
                if record.get("id") in erased_ids:
                    found.update(
                        value.lower()
                        for value in (record["email"], record["phone_number"], record["address"])
                        if value
                    )
                if record.get("customer_id") in erased_ids:
                    found.add(record["delivery_address"]["address"].lower())
    return found


def _dump(url):
    """Every row of every table in every schema, as text."""
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            """
            SELECT table_schema, table_name FROM information_schema.tables
            WHERE table_type = 'BASE TABLE'
              AND table_schema NOT IN ('pg_catalog', 'information_schema')
            """
        ).fetchall()
        return "\n".join(
            row[0]
            for schema, table in tables
            for row in conn.execute(f'SELECT lower(t::text) FROM "{schema}"."{table}" t')
        )


@pytest.fixture(scope="module")
def erased_sample(new_database, sample_data):
    """The sample loaded without its erasure requests, then with them."""
    url = new_database()
    assert load(url, sample_data, datasets=("products", "customers", "transactions")).ok
    with psycopg.connect(url) as conn:
        before = conn.execute(ERASED_DAY_TOTALS).fetchall()
        customers_before = {
            row[0]: row[1:] for row in conn.execute("SELECT customer_id, email FROM pii.customers")
        }
    assert load(url, sample_data, datasets=("erasure-requests",)).ok
    return url, before, customers_before


def test_erasure_removes_every_identifier_and_keeps_the_rest(erased_sample, sample_data):
    url, totals_before, customers_before = erased_sample
    with psycopg.connect(url) as conn:
        erased_ids = {
            row[0] for row in conn.execute("SELECT customer_id FROM privacy.erased_customers")
        }
        outcomes = conn.execute(
            "SELECT outcome, count(*) FROM privacy.erasure_log GROUP BY 1"
        ).fetchall()
        remaining = {
            row[0]: row[1:] for row in conn.execute("SELECT customer_id, email FROM pii.customers")
        }
        totals_after = conn.execute(ERASED_DAY_TOTALS).fetchall()
        pseudonyms = conn.execute(
            "SELECT count(DISTINCT customer_key) FROM warehouse.transactions"
        ).fetchone()[0]
    assert len(erased_ids) == 23 and outcomes == [("erased", 23)]
    identifiers = _erased_identifiers(sample_data, erased_ids)
    assert len(identifiers) > 23 * 2
    dump = _dump(url)
    assert [identifier for identifier in identifiers if identifier in dump] == []
    # Everyone else intact; sales per day unchanged; transactions keep their pseudonyms.
    assert remaining == {k: v for k, v in customers_before.items() if k not in erased_ids}
    assert totals_after == totals_before
    assert pseudonyms > len(remaining)


def test_verifier_finds_no_residue_after_erasure_and_finds_planted_residue(
    erased_sample, sample_data
):
    url, *_ = erased_sample
    settings = settings_for(url, sample_data)
    with psycopg.connect(url) as conn:
        assert find_residue(conn, settings).residue == []
        with conn.transaction(force_rollback=True):
            # the payload is ciphertext now; a reason quoting the value is still plain text
            conn.execute(
                """
                INSERT INTO ops.quarantine (dataset, partition_date, source_file, line_number,
                                            errors)
                SELECT 'customers', min(partition_date), 'planted', 1, %s FROM ops.load_log
                """,
                ('[{"path": "$.email", "message": "jacobbarker@example.org"}]',),
            )
            residue = find_residue(conn, settings).residue
        assert [(r.kind, r.place) for r in residue] == [("email", "table ops.quarantine")]


def test_replaying_every_landing_file_leaves_erased_customers_erased(erased_sample, sample_data):
    url, *_ = erased_sample
    before = table_checksums(url)
    summary = load(url, sample_data, force=True)
    assert summary.ok
    assert summary.datasets["customers"].records["erased"] == 23
    assert summary.datasets["transactions"].records["scrubbed"] > 0
    assert table_checksums(url) == before
    with psycopg.connect(url) as conn:
        assert find_residue(conn, settings_for(url, sample_data)).residue == []


def test_pseudonym_is_keyed_stable_and_not_a_plain_hash():
    assert customer_key("067318", TEST_KEY) == customer_key("067318", TEST_KEY)
    assert customer_key("067318", TEST_KEY) != customer_key("067318", b"another key")
    plain = {hashlib.sha256(v.encode()).hexdigest() for v in ("067318", "67318", "")}
    assert customer_key("067318", TEST_KEY) not in plain


def test_pseudonyms_in_the_warehouse_are_stable_across_runs_and_keys(tmp_path, new_database):
    lz.write(tmp_path, "customers", [lz.customer("067318")])
    keys = {}
    for run_name, key in [("first", TEST_KEY), ("again", TEST_KEY), ("other", b"other-key" * 4)]:
        url = new_database()
        from etl.loading.runner import run

        run(replace(settings_for(url, tmp_path), pseudonym_key=key), show_progress=False)
        with psycopg.connect(url) as conn:
            keys[run_name] = conn.execute("SELECT customer_key FROM warehouse.customers").fetchone()
    assert keys["first"] == keys["again"] != keys["other"]


def test_production_refuses_the_development_key():
    with pytest.raises(SettingsError):
        Settings.from_env({"WAREHOUSE_ENV": "production"})
    with pytest.raises(SettingsError):
        Settings.from_env(
            {"WAREHOUSE_ENV": "production", "WAREHOUSE_PSEUDONYM_KEY": DEVELOPMENT_PSEUDONYM_KEY}
        )
    key = "k" * 40
    master_key = "ab" * 32
    production = {"WAREHOUSE_ENV": "production", "WAREHOUSE_PSEUDONYM_KEY": key}
    with pytest.raises(SettingsError, match="WAREHOUSE_MASTER_KEY"):
        Settings.from_env({**production, "WAREHOUSE_MASTER_KEY": DEVELOPMENT_MASTER_KEY})
    with pytest.raises(SettingsError, match="32 bytes"):
        Settings.from_env({**production, "WAREHOUSE_MASTER_KEY": "too short"})
    assert Settings.from_env({**production, "WAREHOUSE_MASTER_KEY": master_key})
    dotenv = (PROJECT_DIR / ".env").read_text()
    assert f"WAREHOUSE_PSEUDONYM_KEY={DEVELOPMENT_PSEUDONYM_KEY}\n" in dotenv
    assert f"WAREHOUSE_MASTER_KEY={DEVELOPMENT_MASTER_KEY}\n" in dotenv


def test_analyst_cannot_read_personal_data_and_the_loader_can(tmp_path, database_url):
    lz.write(tmp_path, "customers", [lz.customer("067318")])
    lz.write(tmp_path, "transactions", [lz.transaction()], hour=1)
    load(database_url, tmp_path)
    as_analyst = make_conninfo(database_url, user="warehouse_analyst")
    with psycopg.connect(as_analyst, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM warehouse.transactions").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM ops.quarantine").fetchone() == (0,)
        for query in (
            "SELECT * FROM pii.customers",
            "SELECT * FROM pii.delivery_addresses",
            "SELECT payload FROM ops.quarantine",
            "SELECT * FROM privacy.erasure_log",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(query)
    as_loader = make_conninfo(database_url, user="warehouse_loader")
    with psycopg.connect(as_loader, autocommit=True) as conn:
        assert conn.execute("SELECT customer_id FROM pii.customers").fetchone() == ("067318",)
    as_officer = make_conninfo(database_url, user="warehouse_privacy_officer")
    with psycopg.connect(as_officer, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pii.delivery_addresses").fetchone() == (1,)


def _requests(root, requests, day="2020-01-02", gz=True):
    lz.write(
        root,
        "erasure-requests",
        [{"customer-id": cid, "email": email} for cid, email in requests],
        day=day,
        gz=gz,
    )


def test_request_must_match_id_and_email_and_is_handled_once(tmp_path, database_url, conn):
    lz.write(tmp_path, "customers", [lz.customer("000001"), lz.customer("000002")])
    _requests(tmp_path, [(" 000001 ", " Person000001@EXAMPLE.com"), ("000002", "else@example.com"),
                         ("999999", "nobody@example.com")])  # fmt: skip
    _requests(tmp_path, [("000001", "person000001@example.com")], gz=False)
    summary = load(database_url, tmp_path)
    outcomes = dict(
        conn.execute(
            "SELECT l.source_line || ':' || l.source_file, outcome FROM privacy.erasure_log l"
        ).fetchall()
    )
    assert sorted(outcomes.values()) == ["email_mismatch", "erased", "unknown_customer"]
    assert summary.datasets["erasure-requests"].records["duplicate"] == 1
    assert [r[0] for r in conn.execute("SELECT customer_id FROM pii.customers")] == ["000002"]


def test_request_before_the_customer_arrives_erases_them_on_arrival(tmp_path, database_url, conn):
    _requests(tmp_path / "requests", [("000001", "person000001@example.com")])
    load(database_url, tmp_path / "requests")
    assert conn.execute("SELECT outcome FROM privacy.erasure_log").fetchone() == (
        "unknown_customer",
    )
    lz.write(tmp_path / "late", "transactions", [lz.transaction(customer_id="000001")], hour=1)
    lz.write(tmp_path / "late", "customers", [lz.customer("000001"), lz.customer("000002")])
    summary = load(database_url, tmp_path / "late")
    assert summary.datasets["customers"].records["erased"] == 1
    assert conn.execute("SELECT outcome FROM privacy.erasure_log").fetchone() == ("erased",)
    assert [r[0] for r in conn.execute("SELECT customer_id FROM pii.customers")] == ["000002"]
    assert conn.execute("SELECT count(*) FROM pii.delivery_addresses").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM warehouse.transactions").fetchone() == (1,)


@pytest.mark.parametrize("first", ["customer", "request"])
def test_erasure_clears_load_errors_quoting_the_email(first, tmp_path, database_url, conn):
    """The warehouse keeps no e-mail in plain text, so a load error quoting one is found by the
    e-mail's keyed hash, on both of an erasure's paths: the request for a known customer, and a
    pending request carried out when the customer arrives."""
    quoted = "line 3: not an e-mail domain in 'Person000001@Example.com' (a copy of the record)"
    other = "line 4: not an e-mail domain in 'person000002@example.com'"
    lz.write(tmp_path / "customers", "customers", [lz.customer("000001"), lz.customer("000002")])
    _requests(tmp_path / "requests", [("000001", "person000001@example.com")])
    order = ["customers", "requests"] if first == "customer" else ["requests", "customers"]
    load(database_url, tmp_path / order[0])
    for number, error in enumerate((quoted, other)):
        conn.execute(
            """
            INSERT INTO ops.load_log (dataset, partition_date, partition_hour, source_file,
                                      checksum, status, error, started_at, finished_at)
            VALUES ('customers', '2020-01-01', 5, %s, 'x', 'failed', %s, now(), now())
            """,
            (f"date=2020-01-01/hour=05/broken-{number}.json.gz", error),
        )
    conn.commit()
    load(database_url, tmp_path / order[1])
    assert conn.execute("SELECT outcome FROM privacy.erasure_log").fetchone() == ("erased",)
    errors = conn.execute(
        "SELECT error FROM ops.load_log WHERE status = 'failed' ORDER BY source_file"
    ).fetchall()
    assert errors == [("[removed by erasure]",), (other,)]


def test_erasure_reaches_quarantine_and_broken_replays_stay_out(tmp_path, database_url, conn):
    broken = json.dumps(lz.customer("000001", last_change="not a date"))
    lz.write(tmp_path, "customers", [lz.customer("000001"), broken], hour=1)
    load(database_url, tmp_path)
    assert conn.execute("SELECT count(*) FROM ops.quarantine").fetchone() == (1,)
    _requests(tmp_path, [("000001", "person000001@example.com")])
    load(database_url, tmp_path)
    assert conn.execute("SELECT count(*) FROM ops.quarantine").fetchone() == (0,)
    # A replay, including a line too broken to parse that names the person's e-mail.
    lz.write(
        tmp_path,
        "customers",
        [lz.customer("000001"), broken, b'{"id": "x", "email": "person000001@example.com" ...'],
        hour=2,
    )
    summary = load(database_url, tmp_path)
    assert summary.datasets["customers"].records["erased"] == 3
    assert conn.execute("SELECT count(*) FROM ops.quarantine").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM pii.customers").fetchone() == (0,)


def test_scrub_landing_rewrites_only_the_erased_customer(tmp_path, database_url, conn):
    keep = lz.customer("000002")
    customers = lz.write(tmp_path, "customers", [lz.customer("000001"), keep])
    transactions = lz.write(
        tmp_path,
        "transactions",
        [lz.transaction(customer_id="000001"),
         lz.transaction("00000000-0000-4000-8000-000000000002", customer_id="000002")],
        hour=1,
    )  # fmt: skip
    untouched_line = gzip.decompress(transactions.read_bytes()).splitlines(keepends=True)[1]
    _requests(tmp_path, [("000001", "person000001@example.com")])
    load(database_url, tmp_path)
    before = table_checksums(database_url)
    scrubbed = scrub_landing(conn, tmp_path, TEST_KEY)
    assert {
        (s.relative_path.split("/")[-1], s.lines_removed, s.lines_redacted) for s in scrubbed
    } == {
        ("customers.json.gz", 1, 0),
        ("transactions.json.gz", 0, 1),
        ("erasure-requests.json.gz", 1, 0),
    }
    assert gzip.decompress(customers.read_bytes()) == (json.dumps(keep) + "\n").encode()
    lines = gzip.decompress(transactions.read_bytes()).splitlines(keepends=True)
    assert lines[1] == untouched_line
    assert b"[erased]" in lines[0] and b"Heffron" not in lines[0]
    assert not list(tmp_path.rglob("*.tmp"))
    summary = load(database_url, tmp_path)
    assert all(s.files == {"unchanged": s.files.total()} for s in summary.datasets.values())
    assert table_checksums(database_url) == before


def test_key_rotation_rekeys_everything_in_one_go(tmp_path, database_url, conn):
    lz.write(tmp_path, "customers", [lz.customer("000001"), lz.customer("000002")])
    lz.write(
        tmp_path,
        "transactions",
        [lz.transaction(customer_id="000001"),
         lz.transaction("00000000-0000-4000-8000-000000000002", customer_id="000002")],
        hour=1,
    )  # fmt: skip
    _requests(tmp_path, [("000001", "person000001@example.com")])
    load(database_url, tmp_path)
    new_key = b"a-brand-new-key-of-at-least-32-characters"
    [customer_before] = decrypted(conn, "pii.customers")
    with keystore.beside(conn, Settings.from_env({}).master) as keys:
        rotate_key(conn, TEST_KEY, new_key, keys)
    keys = {r[0] for r in conn.execute("SELECT customer_key FROM warehouse.transactions")}
    assert keys == {customer_key("000001", new_key), customer_key("000002", new_key)}
    joined = conn.execute(
        "SELECT count(*) FROM warehouse.transactions JOIN warehouse.customers USING (customer_key)"
    ).fetchone()
    assert joined == (1,)
    tombstone = conn.execute("SELECT customer_key FROM privacy.erased_customers").fetchone()
    assert tombstone == (customer_key("000001", new_key),)
    # The personal data still decrypts, its data key now found under the new pseudonym.
    [customer_after] = decrypted(conn, "pii.customers", new_key)
    assert customer_after["email"] == customer_before["email"] == "person000002@example.com"
    assert customer_after["email_key"] == pseudonym("person000002@example.com", new_key)
    # Replays under the new key keep the erased customer out.
    settings = replace(settings_for(database_url, tmp_path), pseudonym_key=new_key)
    from etl.loading.runner import run

    summary = run(settings, show_progress=False, force=True)
    assert summary.datasets["customers"].records["erased"] == 1
    assert conn.execute("SELECT customer_id FROM pii.customers").fetchall() == [("000002",)]


def test_erasure_module_runs_alone_as_in_the_user_code_container(tmp_path, database_url, conn):
    lz.write(tmp_path, "customers", [lz.customer("000001")])
    _requests(tmp_path, [("000001", "person000001@example.com")])
    subprocess.run(
        [sys.executable, "-m", "etl.customers_etl", "--raw-data", str(tmp_path)],
        check=True,
        cwd=PROJECT_DIR,
        env={"DATABASE_URL": database_url, "WAREHOUSE_PSEUDONYM_KEY": "k", "PATH": ""},
        capture_output=True,
    )
    # The container keeps etl/ with the project on PYTHONPATH and runs the file by name.
    workdir = tmp_path / "app"
    shutil.copytree(PROJECT_DIR / "etl", workdir / "etl")
    for folder in ("schemas", "sql-scripts"):
        shutil.copytree(PROJECT_DIR / folder, workdir / folder)
    result = subprocess.run(
        [sys.executable, "erasure_requests_etl.py", "--raw-data", str(tmp_path)],
        cwd=workdir / "etl",
        env={"DATABASE_URL": database_url, "WAREHOUSE_PSEUDONYM_KEY": "k", "PATH": "",
             "PYTHONPATH": str(workdir)},
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "erasure-requests: files 1 loaded" in result.stdout
    assert conn.execute("SELECT outcome FROM privacy.erasure_log").fetchone() == ("erased",)


def test_the_loader_loads_and_the_privacy_officer_erases_with_their_own_roles(
    tmp_path, database_url, conn
):
    lz.write(tmp_path, "products", [lz.product()])
    broken = json.dumps(lz.customer("000001", last_change="not a date"))
    lz.write(tmp_path, "customers", [lz.customer("000001"), broken])
    lz.write(tmp_path, "transactions", [lz.transaction(customer_id="000001")], hour=1)
    create_keystore(database_url)
    as_loader = make_conninfo(database_url, user="warehouse_loader")
    summary = load(as_loader, tmp_path, datasets=("products", "customers", "transactions"))
    assert summary.ok, summary.render()
    assert conn.execute("SELECT count(*) FROM ops.quarantine").fetchone() == (1,)
    _requests(tmp_path, [("000001", "person000001@example.com")])
    as_officer = make_conninfo(database_url, user="warehouse_privacy_officer")
    summary = load(as_officer, tmp_path, datasets=("erasure-requests",))
    assert summary.ok, summary.render()
    assert conn.execute("SELECT outcome FROM privacy.erasure_log").fetchone() == ("erased",)
    assert conn.execute("SELECT count(*) FROM pii.customers").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM ops.quarantine").fetchone() == (0,)
