"""The landing zone: which files are drops, in what order, and how their lines are read."""

import gzip
import os
import tracemalloc
from datetime import date

import pytest

from etl.source import landing
from etl.source.landing import LandingFileError


def _write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_discover_orders_by_partition_and_skips_what_is_not_a_drop(tmp_path):
    for relative in [
        "date=2020-01-02/hour=00/transactions.json.gz",
        "date=2020-01-01/hour=13/transactions.json.gz",
        "date=2020-01-01/hour=00/erasure-requests.json",
        "date=2020-01-01/hour=00/erasure-requests.json.gz",
        "date=2020-13-01/hour=00/transactions.json.gz",  # no such month
        "date=2020-01-01/hour=24/transactions.json.gz",  # no such hour
        "date=2020-01-01/hour=00/inventory.json.gz",  # unknown dataset
        "date=2020-01-01/hour=00/transactions.csv",
        "elsewhere/transactions.json.gz",
    ]:
        _write(tmp_path / relative, b"")
    found = [f.relative_path for f in landing.discover(tmp_path)]
    assert found == [
        "date=2020-01-01/hour=00/erasure-requests.json",
        "date=2020-01-01/hour=00/erasure-requests.json.gz",
        "date=2020-01-01/hour=13/transactions.json.gz",
        "date=2020-01-02/hour=00/transactions.json.gz",
    ]
    only = landing.discover(tmp_path, ("transactions",), start=date(2020, 1, 2))
    assert [f.relative_path for f in only] == ["date=2020-01-02/hour=00/transactions.json.gz"]


def test_symlink_leading_out_of_the_landing_zone_is_ignored(tmp_path):
    outside = _write(tmp_path / "outside" / "secret.json.gz", gzip.compress(b"{}\n"))
    zone = tmp_path / "zone"
    link = zone / "date=2020-01-01" / "hour=00" / "customers.json.gz"
    link.parent.mkdir(parents=True)
    os.symlink(outside, link)
    assert landing.discover(zone) == []


def test_partition_of_a_file(tmp_path):
    path = _write(tmp_path / "date=2020-01-31/hour=07/customers.json.gz", b"")
    landing_file = landing.parse_path(tmp_path, path)
    assert (landing_file.dataset, landing_file.partition_date, landing_file.partition_hour) == (
        "customers",
        date(2020, 1, 31),
        7,
    )
    assert landing_file.partition == "2020-01-31-07:00"


def test_lines_are_numbered_and_stripped_of_bom_crlf_and_blanks(tmp_path):
    data = b'\xef\xbb\xbf{"a": 1}\r\n\r\n{"a": 2}\r\n   \n{"a": 3}'
    path = _write(tmp_path / "date=2020-01-01/hour=00/customers.json", data)
    lines = list(landing.read_lines(landing.parse_path(tmp_path, path)))
    assert [(line.number, line.raw) for line in lines] == [
        (1, b'{"a": 1}'),
        (3, b'{"a": 2}'),
        (5, b'{"a": 3}'),
    ]


@pytest.mark.parametrize("gz", [False, True], ids=["json", "gzip"])
def test_a_bom_is_stripped_from_the_start_of_any_line_and_only_there(tmp_path, gz):
    """Two files written by a Windows tool, concatenated: each brings its byte-order mark and
    CRLF endings. A mark inside a line is not a byte-order mark: it stays, and the line is not
    JSON."""
    bom = b"\xef\xbb\xbf"
    first, second = bom + b'{"a": 1}\r\n{"a": 2}\r\n', bom + b'{"a": 3}\r\n'
    inside = b'{"a": ' + bom + b"4}\r\n" + b'{"a": 5}' + bom + b"\r\n" + bom + b"\r\n"
    data = first + second + inside
    name = "customers.json.gz" if gz else "customers.json"
    path = _write(tmp_path / "date=2020-01-01/hour=00" / name, gzip.compress(data) if gz else data)
    lines = list(landing.read_lines(landing.parse_path(tmp_path, path)))
    assert [(line.number, line.raw) for line in lines] == [
        (1, b'{"a": 1}'),
        (2, b'{"a": 2}'),
        (3, b'{"a": 3}'),
        (4, b'{"a": ' + bom + b"4}"),
        (5, b'{"a": 5}' + bom),
    ]  # line 6, a mark alone, is blank


def test_truncated_gzip_raises_after_the_readable_lines(tmp_path):
    whole = gzip.compress(b"".join(b'{"n": %d}\n' % n for n in range(5000)))
    path = _write(tmp_path / "date=2020-01-01/hour=00/customers.json.gz", whole[: len(whole) // 2])
    read = []
    with pytest.raises(LandingFileError, match="truncated"):
        for line in landing.read_lines(landing.parse_path(tmp_path, path)):
            read.append(line)
    assert 0 < len(read) < 5000


def test_file_that_is_not_gzip_raises(tmp_path):
    path = _write(tmp_path / "date=2020-01-01/hour=00/customers.json.gz", b'{"id": "1"}\n')
    with pytest.raises(LandingFileError, match="not a gzip file"):
        list(landing.read_lines(landing.parse_path(tmp_path, path)))


def test_gzip_of_nothing_has_no_lines_but_a_zero_byte_gzip_file_is_an_error(tmp_path):
    empty = _write(tmp_path / "date=2020-01-01/hour=00/customers.json.gz", gzip.compress(b""))
    assert list(landing.read_lines(landing.parse_path(tmp_path, empty))) == []
    zero = _write(tmp_path / "date=2020-01-01/hour=01/customers.json.gz", b"")
    with pytest.raises(LandingFileError, match=r"empty file \(0 bytes\), not a gzip stream"):
        list(landing.read_lines(landing.parse_path(tmp_path, zero)))


def test_line_over_the_maximum_comes_cut_with_its_length(tmp_path, monkeypatch):
    monkeypatch.setattr(landing, "MAX_RECORD_BYTES", 100)
    monkeypatch.setattr(landing, "OVERSIZE_PREVIEW_BYTES", 10)
    data = b"a" * 100 + b"\r\n" + b"b" * 101 + b"\n" + b"c" * 5000 + b"\r\n" + b"d" * 300
    path = _write(tmp_path / "date=2020-01-01/hour=00/customers.json", data)
    lines = list(landing.read_lines(landing.parse_path(tmp_path, path)))
    assert [(line.number, line.raw, line.oversize) for line in lines] == [
        (1, b"a" * 100, None),
        (2, b"b" * 10, 101),
        (3, b"c" * 10, 5000),
        (4, b"d" * 10, 300),
    ]


def test_a_fifty_megabyte_line_is_never_held_whole(tmp_path):
    huge = b'{"id": "' + b"9" * (50 << 20) + b'"}\n'
    path = _write(
        tmp_path / "date=2020-01-01/hour=00/customers.json.gz",
        gzip.compress(huge + b'{"id": "1"}\n', compresslevel=1),
    )
    del huge
    tracemalloc.start()
    lines = list(landing.read_lines(landing.parse_path(tmp_path, path)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [(line.number, line.oversize) for line in lines] == [
        (1, len(b'{"id": "') + (50 << 20) + 2),
        (2, None),
    ]
    assert len(lines[0].raw) == landing.OVERSIZE_PREVIEW_BYTES
    assert peak < 8 << 20  # a few buffers of a MiB, against the line's 50


def test_files_that_are_not_drops_are_listed_with_the_reason(tmp_path):
    outside = _write(tmp_path / "outside" / "secret.json.gz", gzip.compress(b"{}\n"))
    zone = tmp_path / "zone"
    for relative in [
        "date=2020-01-01/hour=00/customers.json.gz",  # a drop
        "README.md",  # documentation at the top level
        "date=2020-01-01/hour=00/.customers.json.gz.part",  # an upload in progress
        "date=2020-13-01/hour=00/transactions.json.gz",
        "date=2020-02-30/hour=00/transactions.json.gz",
        "date=2020-01-01/hour=24/transactions.json.gz",
        "date=2020-01-01/hour=7/transactions.json.gz",
        "date=2020-01-01/hour=00/inventory.json.gz",
        "date=2020-01-01/hour=00/transactions.csv",
        "date=2020-01-01/transactions.json.gz",
        "transactions.json.gz",
    ]:
        _write(zone / relative, b"")
    link = zone / "date=2020-01-01" / "hour=01" / "customers.json.gz"
    link.parent.mkdir(parents=True)
    os.symlink(outside, link)
    os.symlink(outside.parent, zone / "date=2020-01-02")
    os.symlink(zone / "nowhere", zone / "date=2020-01-01" / "hour=01" / "products.json.gz")
    assert [(f.relative_path, f.reason) for f in landing.unrecognised(zone)] == [
        ("date=2020-01-01/hour=00/inventory.json.gz",
         "inventory is not a dataset (known: products, customers, transactions, erasure-requests)"),
        ("date=2020-01-01/hour=00/transactions.csv",
         "transactions.csv is not named <dataset>.json or <dataset>.json.gz"),
        ("date=2020-01-01/hour=01/customers.json.gz",
         "symbolic link leading out of the landing zone"),
        ("date=2020-01-01/hour=01/products.json.gz", "broken symbolic link"),
        ("date=2020-01-01/hour=24/transactions.json.gz", "hour=24 is not an hour (00 to 23)"),
        ("date=2020-01-01/hour=7/transactions.json.gz", "hour=7 is not an hour (00 to 23)"),
        ("date=2020-01-01/transactions.json.gz", "not in a date=YYYY-MM-DD/hour=HH/ folder"),
        ("date=2020-01-02", "symbolic link leading out of the landing zone"),
        ("date=2020-02-30/hour=00/transactions.json.gz",
         "date=2020-02-30 is not a date (YYYY-MM-DD)"),
        ("date=2020-13-01/hour=00/transactions.json.gz",
         "date=2020-13-01 is not a date (YYYY-MM-DD)"),
        ("transactions.json.gz", "not in a date=YYYY-MM-DD/hour=HH/ folder"),
    ]  # fmt: skip
    assert [f.relative_path for f in landing.discover(zone)] == [
        "date=2020-01-01/hour=00/customers.json.gz"
    ]
