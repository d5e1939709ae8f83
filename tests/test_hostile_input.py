"""Hostile landing files: each gets a specific reason in quarantine or the load log, the rest of
the run goes on, no file loads in part, and every record read is accounted for."""

import gzip
import json

import pytest

from tests import landing_zone as lz
from tests.conftest import decrypted, load, quarantined_payload
from tests.hostile_input import FILE_CASES, GOOD_RECORDS, RECORD_CASES

LOAD_LOG = """
    SELECT status, records_read, records_loaded, records_duplicate, records_quarantined,
           records_erased, error
    FROM ops.load_log WHERE source_file = %s ORDER BY load_id DESC LIMIT 1
"""


def _logged(conn, relative_path):
    row = conn.execute(LOAD_LOG, (relative_path,)).fetchone()
    assert row is not None, f"{relative_path} was not logged"
    status, read, loaded, duplicate, quarantined, erased, error = row
    assert read == loaded + duplicate + quarantined + erased
    return status, read, loaded + duplicate, quarantined, error


def _write_record_case(root, case, hour):
    good = GOOD_RECORDS[case.dataset]
    path = lz.write(root, case.dataset, [good[0], case.line, good[1]], hour=hour)
    return path.relative_to(root).as_posix()


def _check_record_case(conn, case, relative_path):
    # the two good records load (or count as duplicates of the same records in other files)
    assert _logged(conn, relative_path)[:4] == ("loaded", 3, 2, 1)
    errors = conn.execute(
        "SELECT errors FROM ops.quarantine WHERE source_file = %s AND line_number = 2",
        (relative_path,),
    ).fetchone()[0]
    payload = quarantined_payload(conn, 2, relative_path)
    assert any(e["path"] == case.path and case.message in e["message"] for e in errors), errors
    if case.id == "line-of-50-mib":
        assert len(payload) == 4096


@pytest.mark.parametrize("case", RECORD_CASES, ids=[case.id for case in RECORD_CASES])
def test_hostile_record_is_quarantined_with_its_reason(tmp_path, database_url, conn, case):
    relative_path = _write_record_case(tmp_path, case, hour=0)
    summary = load(database_url, tmp_path)
    assert summary.ok, summary.render()
    _check_record_case(conn, case, relative_path)


def _write_file_case(root, case, hour):
    path = root / "date=2020-01-01" / f"hour={hour:02d}" / case.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(case.data)
    return path.relative_to(root).as_posix()


def _check_file_case(conn, case, relative_path):
    status, read, loaded, quarantined, error = _logged(conn, relative_path)
    assert status == case.status
    if case.records[0] == -1:  # a truncated file: whatever could be read, all of it quarantined
        assert 0 < read == quarantined and loaded == 0
    else:
        assert (read, loaded, quarantined) == case.records
    if case.error:
        assert case.error in error
    return loaded


def _stored(conn, relative_path):
    return conn.execute(
        "SELECT count(*) FROM pii.customers WHERE source_file = %s", (relative_path,)
    ).fetchone()[0]


@pytest.mark.parametrize("case", FILE_CASES, ids=[case.id for case in FILE_CASES])
def test_hostile_file_gets_a_clear_status(tmp_path, database_url, conn, case):
    relative_path = _write_file_case(tmp_path, case, hour=0)
    summary = load(database_url, tmp_path)
    assert summary.ok, summary.render()  # the data's fault is not a failure of the run
    loaded = _check_file_case(conn, case, relative_path)
    assert _stored(conn, relative_path) == loaded  # a rejected file leaves nothing behind


def test_text_with_sql_and_shell_metacharacters_is_stored_as_received(tmp_path, database_url, conn):
    name = "Robert'); DROP TABLE pii.customers; --"
    city = "$(reboot) `rm -rf /` | & ; %s %(x)s \\N \\. \t"
    lz.write(tmp_path, "customers", [lz.customer("000001", first_name=name, city=city)])
    load(database_url, tmp_path)
    [stored] = decrypted(conn, "pii.customers")
    assert (stored["first_name"], stored["city"]) == (name, city.strip())


def test_integral_floats_are_read_as_integers(tmp_path, database_url, conn):
    lz.write(tmp_path, "products", [lz.product(99096.0), lz.product(1e3)])
    transaction = lz.transaction()
    transaction["purchases"]["products"][0].update(sku=99096.0, quanitity=2.0)
    lz.write(tmp_path, "transactions", [transaction], hour=1)
    assert load(database_url, tmp_path).ok
    assert conn.execute("SELECT sku FROM warehouse.products ORDER BY 1").fetchall() == [
        (1000,),
        (99096,),
    ]
    assert conn.execute("SELECT sku, quantity FROM warehouse.transaction_items").fetchone() == (
        99096,
        2,
    )


def test_the_whole_corpus_in_one_run_with_misplaced_files(tmp_path, database_url, conn):
    """Every hostile file at once, beside files in wrong folders and links out of the zone:
    the run finishes, each file gets its own verdict, misplaced files are listed."""
    placed = []
    for hour, case in enumerate(RECORD_CASES):
        day = f"2020-01-{1 + hour // 24:02d}"
        good = GOOD_RECORDS[case.dataset]
        path = lz.write(tmp_path, case.dataset, [good[0], case.line, good[1]], day, hour % 24)
        placed.append((case, path.relative_to(tmp_path).as_posix()))
    for hour, case in enumerate(FILE_CASES):
        path = tmp_path / "date=2020-02-01" / f"hour={hour:02d}" / case.name
        path.parent.mkdir(parents=True)
        path.write_bytes(case.data)
        placed.append((case, path.relative_to(tmp_path).as_posix()))
    good = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in GOOD_RECORDS["products"]))
    for misplaced in ("date=2020-13-01/hour=00", "date=2020-01-01/hour=24", "incoming"):
        (tmp_path / misplaced).mkdir(parents=True, exist_ok=True)
        (tmp_path / misplaced / "products.json.gz").write_bytes(good)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.json.gz"
    outside.write_bytes(good)
    (tmp_path / "date=2020-03-01" / "hour=00").mkdir(parents=True)
    (tmp_path / "date=2020-03-01/hour=00/customers.json.gz").symlink_to(outside)

    summary = load(database_url, tmp_path)

    assert summary.ok, summary.render()
    for case, relative_path in placed:
        if hasattr(case, "line"):
            _check_record_case(conn, case, relative_path)
        elif _check_file_case(conn, case, relative_path) == 0:
            assert _stored(conn, relative_path) == 0
    assert [(entry.relative_path, entry.reason) for entry in summary.unrecognised] == [
        ("date=2020-01-01/hour=24/products.json.gz", "hour=24 is not an hour (00 to 23)"),
        ("date=2020-03-01/hour=00/customers.json.gz",
         "symbolic link leading out of the landing zone"),
        ("date=2020-13-01/hour=00/products.json.gz", "date=2020-13-01 is not a date (YYYY-MM-DD)"),
        ("incoming/products.json.gz", "not in a date=YYYY-MM-DD/hour=HH/ folder"),
    ]  # fmt: skip
    assert "NOT LOADED incoming/products.json.gz: not in a date=" in summary.render()
    logged_files = conn.execute("SELECT count(DISTINCT source_file) FROM ops.load_log").fetchone()
    assert logged_files[0] == len(placed)
