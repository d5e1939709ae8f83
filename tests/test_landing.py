"""The landing zone: which files are drops, in what order, and how their lines are read."""

import gzip
import os
from datetime import date

import pytest

from etl import landing
from etl.landing import LandingFileError


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


def test_empty_gzip_file_has_no_lines(tmp_path):
    path = _write(tmp_path / "date=2020-01-01/hour=00/customers.json.gz", b"")
    assert list(landing.read_lines(landing.parse_path(tmp_path, path))) == []
