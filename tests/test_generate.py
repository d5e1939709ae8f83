"""Tests of the landing-zone generator: format, determinism, and a report that matches the files."""

from __future__ import annotations

import gzip
import json
import re
import uuid
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from generate import DATASETS, GenerationReport, generate, main

LAYOUT = re.compile(
    r"date=\d{4}-\d{2}-\d{2}/hour=\d{2}/"
    r"(customers|transactions|products|erasure-requests)\.json(\.gz)?"
)
CUSTOMER_KEYS = [
    "id", "first_name", "last_name", "date_of_birth", "email", "phone_number", "address", "city",
    "country", "postcode", "last_change", "segment",
]  # fmt: skip
PRODUCT_KEYS = ["sku", "name", "price", "category", "popularity"]
TRANSACTION_KEYS = [
    "transaction_id", "transaction_time", "customer_id", "delivery_address", "purchases",
]  # fmt: skip
ADDRESS_KEYS = ["address", "postcode", "city", "country"]
ITEM_KEYS = ["sku", "quanitity", "price", "total"]
ERASURE_KEYS = ["customer-id", "email"]
KEYS = {
    "customers": CUSTOMER_KEYS,
    "products": PRODUCT_KEYS,
    "transactions": TRANSACTION_KEYS,
    "erasure-requests": ERASURE_KEYS,
}
MONEY = re.compile(r"^\d+\.\d{2}$")
CUSTOMER_ID = re.compile(r"^\d{6}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$")
COUNTRIES = {"United Kingdom", "Republic of Ireland"}
SMALL = {"days": 1, "customers_per_hour": 2, "transactions_per_hour": 4, "products": 12}


@dataclass
class Line:
    path: str
    hour: tuple[str, int]
    text: str
    record: Any = None
    problem: str | None = None


@dataclass
class Landing:
    """Everything a reader gets back from a generated landing zone."""

    files: dict[str, list[str]] = field(default_factory=dict)
    lines: dict[str, list[Line]] = field(default_factory=lambda: {d: [] for d in DATASETS})
    unreadable: dict[str, str] = field(default_factory=dict)

    def valid(self, dataset: str) -> list[dict[str, Any]]:
        return [line.record for line in self.lines[dataset] if line.problem is None]


def read_landing(root: Path) -> Landing:
    landing = Landing()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        assert LAYOUT.fullmatch(relative), relative
        dataset = relative.split("/")[2].split(".")[0]
        landing.files.setdefault(dataset, []).append(relative)
        day, hour = relative.split("/")[:2]
        where = (day.removeprefix("date="), int(hour.removeprefix("hour=")))
        try:
            with (gzip.open if relative.endswith(".gz") else open)(path, "rb") as handle:
                for raw in handle:
                    text = raw.decode().removesuffix("\n")
                    landing.lines[dataset].append(classify(dataset, Line(relative, where, text)))
        except (EOFError, gzip.BadGzipFile) as error:
            landing.unreadable[relative] = type(error).__name__
    return landing


def classify(dataset: str, line: Line) -> Line:
    """Parse a line and name what is wrong with it, in the report's words (None when valid)."""
    try:
        line.record = json.loads(line.text)
    except ValueError:
        line.problem = "bad_json"
        return line
    line.problem = _key_problem(line.record, KEYS[dataset]) or _value_problem(dataset, line.record)
    return line


def _key_problem(record: dict[str, Any], keys: list[str]) -> str | None:
    if set(record) < set(keys):
        return "missing_field"
    if set(record) > set(keys):
        return "extra_field"
    assert list(record) == keys, "keys out of the source's order"
    return None


def _value_problem(dataset: str, record: dict[str, Any]) -> str | None:
    if dataset == "customers":
        return None if isinstance(record["id"], str) else "wrong_type"
    if dataset == "products":
        return None if isinstance(record["sku"], int) else "wrong_type"
    if dataset == "erasure-requests":
        return None
    assert list(record["delivery_address"]) == ADDRESS_KEYS
    purchases = record["purchases"]
    assert list(purchases) == ["products", "total_cost"]
    for item in purchases["products"]:
        assert list(item) == ITEM_KEYS
        if not isinstance(item["sku"], int) or not isinstance(item["quanitity"], int):
            return "wrong_type"
    totals = [Decimal(item["total"]) for item in purchases["products"]]
    if any(
        Decimal(item["price"]) * item["quanitity"] != total
        for item, total in zip(purchases["products"], totals, strict=True)
    ) or sum(totals) != Decimal(purchases["total_cost"]):
        return "inconsistent_total"
    return None


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationReport, Landing]:
    out = tmp_path_factory.mktemp("sample")
    report = generate(out)
    return report, read_landing(out)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerationReport, Landing]:
    out = tmp_path_factory.mktemp("clean")
    report = generate(out, seed=11, defects=False)
    return report, read_landing(out)


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=3, **SMALL)
    generate(tmp_path / "b", seed=3, **SMALL)
    first, second = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert first == second
    assert len(first) > 24


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=3, **SMALL)
    generate(tmp_path / "b", seed=4, **SMALL)
    first, second = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    shared = set(first) & set(second)
    assert all(first[name] != second[name] for name in shared if "transactions" in name)


def test_gzip_header_has_no_name_and_no_time(tmp_path: Path) -> None:
    generate(tmp_path, **SMALL)
    for path in tmp_path.rglob("*.json.gz"):
        header = path.read_bytes()[:10]
        if header[:2] != b"\x1f\x8b":
            continue  # the deliberately uncompressed file
        assert header[3] == 0, f"{path}: gzip header flags (file name) set"
        assert header[4:8] == b"\0\0\0\0", f"{path}: gzip header carries a time"


def test_layout_and_cadence(sample: tuple[GenerationReport, Landing]) -> None:
    report, landing = sample
    transaction_hours = {tuple(p.split("/")[:2]) for p in landing.files["transactions"]}
    assert len(transaction_hours) == 3 * 24
    product_files = landing.files["products"]
    assert [p.split("/")[1] for p in product_files] == ["hour=00"] * 3
    customer_hours = {tuple(p.split("/")[:2]) for p in landing.files["customers"]}
    assert 1 < len(customer_hours) < 3 * 24
    erasure_files = landing.files["erasure-requests"]
    assert all(p.split("/")[1] == "hour=00" for p in erasure_files)
    assert any(p.endswith(".json") for p in erasure_files)
    assert any(p.endswith(".json.gz") for p in erasure_files)
    days_with_both = Counter(p.split("/")[0] for p in erasure_files)
    assert report.quirks["erasure-requests"]["both_forms"] == 1
    assert 2 in days_with_both.values()


def test_lines_serialise_like_the_source(sample: tuple[GenerationReport, Landing]) -> None:
    _, landing = sample
    for dataset in DATASETS:
        for line in landing.lines[dataset]:
            if line.problem != "bad_json":
                assert json.dumps(line.record) == line.text, line.path


def test_valid_records_look_like_the_source(sample: tuple[GenerationReport, Landing]) -> None:
    _, landing = sample
    customers = landing.valid("customers")
    assert all(CUSTOMER_ID.fullmatch(c["id"]) for c in customers)
    assert any(c["id"].startswith("0") for c in customers)
    assert {c["country"] for c in customers} == COUNTRIES
    assert all(ISO_DATE.fullmatch(c["last_change"]) for c in customers)
    assert all(
        c["date_of_birth"] is None or ISO_DATE.fullmatch(c["date_of_birth"]) for c in customers
    )
    assert any(c["date_of_birth"] is None for c in customers)
    phones = [c["phone_number"] for c in customers]
    assert 0.3 < phones.count(None) / len(phones) < 0.7
    assert any("\n" in c["address"] for c in customers)
    assert any(c["segment"] is None for c in customers)
    assert any(
        re.fullmatch(r"[A-Z]\d{2} [0-9A-Z]{4}|D6W [0-9A-Z]{4}", c["postcode"]) for c in customers
    )
    emails = [c["email"] for c in customers if c["email"]]
    assert all(e.strip().lower().split("@")[1].startswith("example.") for e in emails)

    products = landing.valid("products")
    assert all(MONEY.fullmatch(p["price"]) for p in products)
    assert all(isinstance(p["popularity"], float) and 0 <= p["popularity"] <= 1 for p in products)
    assert any(p["price"] == "0.00" for p in products)
    assert any(p["popularity"] == 0.0 for p in products)

    for line in landing.lines["transactions"]:
        if line.problem is not None:
            continue
        record = line.record
        assert uuid.UUID(record["transaction_id"]).version == 4
        assert TIMESTAMP.fullmatch(record["transaction_time"])
        assert CUSTOMER_ID.fullmatch(record["customer_id"])
        assert record["delivery_address"]["country"] in COUNTRIES
        items = record["purchases"]["products"]
        assert items and all(MONEY.fullmatch(i["price"]) and i["quanitity"] >= 1 for i in items)


def test_transactions_fall_inside_their_hour(sample: tuple[GenerationReport, Landing]) -> None:
    report, landing = sample
    outside = [
        line
        for line in landing.lines["transactions"]
        if line.problem is None
        and line.record["transaction_time"][:13] != f"{line.hour[0]}T{line.hour[1]:02d}"
    ]
    # Only the late re-delivery of the previous hour's transaction is out of its hour.
    assert len(outside) == report.quirks["transactions"]["duplicate_across_hours"] == 1


def test_report_matches_the_files(sample: tuple[GenerationReport, Landing]) -> None:
    report, landing = sample
    for dataset in DATASETS:
        assert report.files[dataset] == len(landing.files[dataset]), dataset
        assert report.records[dataset] == len(landing.lines[dataset]), dataset
        problems = Counter(line.problem for line in landing.lines[dataset] if line.problem)
        assert problems == report.broken[dataset], dataset
        assert report.valid[dataset] == len(landing.valid(dataset)), dataset
    assert report.broken["transactions"]["inconsistent_total"] == 2
    assert report.broken["transactions"]["wrong_type"] == 2
    for kind in ("bad_json", "missing_field", "extra_field"):
        assert report.broken["transactions"][kind] == 1
    assert sum(report.broken["customers"].values()) == 3
    assert sum(report.broken["products"].values()) == 2

    ids = Counter(t["transaction_id"] for t in landing.valid("transactions"))
    assert report.distinct["transactions"] == len(ids)
    repeats = sum(ids.values()) - len(ids)
    quirks = report.quirks["transactions"]
    assert repeats == quirks["duplicate_in_hour"] + quirks["duplicate_across_hours"]
    assert quirks["duplicate_in_hour"] > 0

    customers = landing.valid("customers")
    assert report.distinct["customers"] == len({c["id"] for c in customers})
    assert report.updates["customers"] == len(customers) - report.distinct["customers"] > 0
    assert report.quirks["customers"]["missing_email"] == sum(c["email"] is None for c in customers)
    upper = sum(c["email"] is not None and c["email"] != c["email"].lower() for c in customers)
    assert report.quirks["customers"]["upper_case_email"] == upper > 0
    padded = sum(
        any(v is not None and v != v.strip() for v in (c["first_name"], c["last_name"]))
        for c in customers
    )
    assert report.quirks["customers"]["padded_name"] == padded > 0

    products = landing.valid("products")
    assert report.distinct["products"] == len({p["sku"] for p in products})
    assert report.updates["products"] == len(products) - report.distinct["products"]
    zero = sum(p["price"] == "0.00" for p in products)
    assert report.quirks["products"]["zero_price"] == zero


def test_broken_files_are_reported_and_broken(
    sample: tuple[GenerationReport, Landing], tmp_path: Path
) -> None:
    report, landing = sample
    assert set(report.broken_paths.values()) == {"truncated_gzip", "not_gzip"}
    assert landing.unreadable == {
        path: "EOFError" if kind == "truncated_gzip" else "BadGzipFile"
        for path, kind in report.broken_paths.items()
    }
    truncated = next(p for p, k in report.broken_paths.items() if k == "truncated_gzip")
    assert truncated.endswith("transactions.json.gz")
    survivors = [line for line in landing.lines["transactions"] if line.path == truncated]
    assert survivors and all(line.problem is None for line in survivors)
    not_gzip = next(p for p, k in report.broken_paths.items() if k == "not_gzip")
    plain = (report.out / not_gzip).read_text().splitlines()
    assert all(set(json.loads(text)) == set(CUSTOMER_KEYS) for text in plain)
    assert report.lost_records["customers"] == len(plain)
    assert report.lost_records["transactions"] > 0
    # Nothing else points at what the broken files lost.
    lost_ids = {json.loads(text)["id"] for text in plain}
    assert not lost_ids & {t["customer_id"] for t in landing.valid("transactions")}


def test_references_mostly_resolve(sample: tuple[GenerationReport, Landing]) -> None:
    report, landing = sample
    first_seen: dict[str, tuple[str, int]] = {}
    for line in landing.lines["customers"]:
        if line.problem is None:
            first_seen.setdefault(line.record["id"], line.hour)
    skus = {p["sku"] for p in landing.valid("products")}
    where = Counter()
    unknown_skus = 0
    for line in landing.lines["transactions"]:
        if line.problem is not None:
            continue
        seen = first_seen.get(line.record["customer_id"])
        where["never" if seen is None else "later" if seen > line.hour else "known"] += 1
        unknown_skus += any(i["sku"] not in skus for i in line.record["purchases"]["products"])
    quirks = report.quirks["transactions"]
    assert where["never"] == quirks["orphan_customer_never"] > 0
    assert where["later"] == quirks["orphan_customer_later"] > 0
    assert where["known"] > 0.95 * sum(where.values())
    assert unknown_skus == quirks["unknown_sku"] > 0


def test_erasure_requests(sample: tuple[GenerationReport, Landing]) -> None:
    report, landing = sample
    emails: dict[str, str | None] = {}
    for customer in landing.valid("customers"):
        emails[customer["id"]] = customer["email"]
    outcome = Counter()
    for request in landing.valid("erasure-requests"):
        if request["customer-id"] not in emails:
            outcome["unknown_customer"] += 1
        elif emails[request["customer-id"]] != request["email"]:
            outcome["email_mismatch"] += 1
        else:
            outcome["match"] += 1
    quirks = report.quirks["erasure-requests"]
    assert outcome["unknown_customer"] == quirks["unknown_customer"] == 1
    assert outcome["email_mismatch"] == quirks["email_mismatch"] == 1
    assert outcome["match"] >= 2
    plain = [p for p in landing.files["erasure-requests"] if p.endswith(".json")]
    assert len(plain) == quirks["plain_json_files"]
    requests = landing.valid("erasure-requests")
    assert report.distinct["erasure-requests"] == len({r["customer-id"] for r in requests})
    assert len(requests) == report.distinct["erasure-requests"] + quirks["both_forms"]


def test_no_defects_means_clean_consistent_data(clean: tuple[GenerationReport, Landing]) -> None:
    report, landing = clean
    assert not landing.unreadable
    assert not report.broken_paths
    for dataset in DATASETS:
        assert not +report.broken[dataset]
        assert not +report.broken_files[dataset]
        assert not +report.quirks[dataset]
        assert report.lost_records[dataset] == 0
        assert all(line.problem is None for line in landing.lines[dataset]), dataset
        assert report.records[dataset] == report.valid[dataset] == len(landing.lines[dataset])
    assert all(p.endswith(".json.gz") for p in landing.files["erasure-requests"])
    first_seen: dict[str, tuple[str, int]] = {}
    for line in landing.lines["customers"]:
        first_seen.setdefault(line.record["id"], line.hour)
        customer = line.record
        assert customer["email"] == customer["email"].strip().lower()
        assert customer["phone_number"] is None or customer["phone_number"][1:].isdigit()
    skus = {p["sku"] for p in landing.valid("products")}
    ids = [t.record["transaction_id"] for t in landing.lines["transactions"]]
    assert len(ids) == len(set(ids)) == report.distinct["transactions"] == 3 * 24 * 15
    for line in landing.lines["transactions"]:
        assert first_seen[line.record["customer_id"]] <= line.hour
        assert all(i["sku"] in skus for i in line.record["purchases"]["products"])
    assert all(p["price"] != "0.00" for p in landing.valid("products"))


@pytest.mark.parametrize(
    "arguments",
    [
        {"days": 1, "customers_per_hour": 1, "transactions_per_hour": 1, "products": 1},
        {"days": 2, "customers_per_hour": 1, "transactions_per_hour": 2, "products": 3},
        {"days": 4, "customers_per_hour": 5, "transactions_per_hour": 3, "products": 7},
    ],
)
def test_small_and_odd_sizes_stay_consistent(tmp_path: Path, arguments: dict[str, int]) -> None:
    report = generate(tmp_path, seed=5, start_date=date(2020, 2, 28), **arguments)
    landing = read_landing(tmp_path)
    for dataset in DATASETS:
        assert report.records[dataset] == len(landing.lines[dataset]), dataset
        problems = Counter(line.problem for line in landing.lines[dataset] if line.problem)
        assert problems == report.broken[dataset], dataset
    assert set(landing.unreadable) == set(report.broken_paths)
    assert landing.files["products"][-1].startswith(
        f"date={date.fromordinal(date(2020, 2, 28).toordinal() + arguments['days'] - 1)}"
    )


def test_existing_partitions_are_refused(tmp_path: Path) -> None:
    generate(tmp_path, **SMALL)
    with pytest.raises(FileExistsError):
        generate(tmp_path, **SMALL)


def test_cli_writes_the_same_as_the_function(tmp_path: Path) -> None:
    arguments = [
        "--seed", "9", "--start-date", "2021-06-01", "--days", "1", "--customers-per-hour", "2",
        "--transactions-per-hour", "5", "--products", "10",
    ]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(
        main, ["--out", str(tmp_path / "cli"), "--report", str(tmp_path / "r.json"), *arguments]
    )
    assert result.exit_code == 0, result.output
    assert "transactions: 24 files" in result.output
    report = generate(
        tmp_path / "api",
        seed=9,
        start_date=date(2021, 6, 1),
        days=1,
        customers_per_hour=2,
        transactions_per_hour=5,
        products=10,
    )
    assert tree_bytes(tmp_path / "cli") == tree_bytes(tmp_path / "api")
    written = json.loads((tmp_path / "r.json").read_text())
    assert written["records"] == report.records
    assert written["broken"] == {d: dict(sorted(c.items())) for d, c in report.broken.items()}

    again = runner.invoke(main, ["--out", str(tmp_path / "cli"), *arguments])
    assert again.exit_code == 2
    assert "remove them first" in again.output
    no_defects = runner.invoke(main, ["--out", str(tmp_path / "clean"), "--no-defects", *arguments])
    assert no_defects.exit_code == 0, no_defects.output
    assert "broken" not in no_defects.output


def test_readable_line_count_of_truncated_gzip_matches_gzip_module(tmp_path: Path) -> None:
    report = generate(tmp_path, seed=2, days=1, transactions_per_hour=200)
    path = next(p for p, k in report.broken_paths.items() if k == "truncated_gzip")
    data = (tmp_path / path).read_bytes()
    got = 0
    with pytest.raises(EOFError), gzip.open(tmp_path / path, "rb") as handle:
        for _ in handle:
            got += 1
    assert 0 < got < 200
    assert zlib.decompressobj(wbits=31).decompress(data).count(b"\n") == got
