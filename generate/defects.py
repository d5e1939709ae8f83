"""The deliberately broken records and files, which a loader must reject or quarantine (an
unknown extra field is schema drift: the loader's contract says whether its record loads).

Broken lines are fresh records that nothing else refers to, and the unreadable files hold
nothing referenced elsewhere, so that rejecting them leaves no other record dangling. The
report counts each by kind.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterable
from pathlib import Path

from generate.files import write_lines
from generate.money import format_money, parse_money
from generate.people import new_customer
from generate.period import Period
from generate.products import new_product
from generate.randomness import Ids
from generate.report import GenerationReport

# Each kind of broken transaction line, and the report kind it is counted under.
BROKEN_TRANSACTIONS = {
    "bad_json": "bad_json",
    "wrong_type_sku": "wrong_type",
    "wrong_type_quantity": "wrong_type",
    "missing_field": "missing_field",
    "extra_field": "extra_field",
    "inconsistent_line_total": "inconsistent_total",
    "inconsistent_total_cost": "inconsistent_total",
}
# Where to try cutting a gzip file, as a share of its bytes, until some lines survive.
_TRUNCATE_FRACTIONS = (0.6, 0.5, 0.7, 0.4, 0.8, 0.3, 0.9, 0.2)


def broken_transaction(kind: str, line: str, report: GenerationReport) -> str:
    """The transaction `line` broken in the way `kind` names (a key of BROKEN_TRANSACTIONS)."""
    report.broken["transactions"][BROKEN_TRANSACTIONS[kind]] += 1
    if kind == "bad_json":
        return line[: len(line) * 2 // 3]
    record = json.loads(line)
    purchases = record["purchases"]
    item = purchases["products"][0]
    if kind == "wrong_type_sku":
        item["sku"] = "abc"
    elif kind == "wrong_type_quantity":
        item["quanitity"] = str(item["quanitity"])
    elif kind == "missing_field":
        del record["customer_id"]
    elif kind == "extra_field":
        record["channel"] = "web"
    elif kind == "inconsistent_line_total":
        item["total"] = format_money(parse_money(item["total"]) + 100)
        purchases["total_cost"] = format_money(
            sum(parse_money(i["total"]) for i in purchases["products"])
        )
    else:
        purchases["total_cost"] = format_money(parse_money(purchases["total_cost"]) + 100)
    return json.dumps(record)


def add_broken_products(
    rng: random.Random, lines: list[str], skus: Ids, report: GenerationReport
) -> None:
    """Into a products file's `lines`: a sku given as a string and a product without a price."""
    wrong_type = dict(new_product(rng, skus), sku="abc")
    lines.insert(rng.randrange(len(lines) + 1), json.dumps(wrong_type))
    report.broken["products"]["wrong_type"] += 1
    missing = new_product(rng, skus)
    del missing["price"]
    lines.insert(rng.randrange(len(lines) + 1), json.dumps(missing))
    report.broken["products"]["missing_field"] += 1


def add_broken_customers(
    rng: random.Random,
    files: dict[int, list[str]],
    period: Period,
    not_gzip_hour: int | None,
    customer_ids: Ids,
    report: GenerationReport,
) -> list[str]:
    """Into customers files, by hour: an id as a number, no last_change, an unknown field.

    Returns the lines of the unreadable customers file of `not_gzip_hour`.
    """
    hours = sorted(files)
    for kind in ("wrong_type", "missing_field", "extra_field"):
        hour = rng.choice(hours)
        record = new_customer(rng, period.day(hour), customer_ids, defects=True)
        if kind == "wrong_type":
            # What a producer that read the id as a number sends: leading zeros gone.
            record["id"] = int(record["id"])
        elif kind == "missing_field":
            del record["last_change"]
        else:
            record["loyalty_points"] = rng.randint(0, 5000)
        lines = files[hour]
        lines.insert(rng.randrange(len(lines) + 1), json.dumps(record))
        report.broken["customers"][kind] += 1
    # The unreadable file holds only customers nobody references, so nothing else dangles.
    day = period.day(not_gzip_hour or 0)
    return [json.dumps(new_customer(rng, day, customer_ids, defects=True)) for _ in range(2)]


def write_not_gzip(path: Path, dataset: str, lines: list[str], report: GenerationReport) -> None:
    """Plain JSON lines under a .gz name, as a producer that forgot to compress sends them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode())
    report.count_file(dataset, len(lines), 0)
    report.count_broken_file(path, dataset, "not_gzip")


def write_truncated(
    path: Path, dataset: str, lines: Iterable[str], compresslevel: int, report: GenerationReport
) -> None:
    """A gzip file cut short: a reader gets its first lines, then the stream ends early."""
    written = write_lines(path, lines, compresslevel)
    report.count_file(dataset, written, written)
    data = path.read_bytes()
    for fraction in _TRUNCATE_FRACTIONS:
        cut = data[: int(len(data) * fraction)]
        readable = _readable_lines(cut)
        if 0 < readable < written:
            path.write_bytes(cut)
            report.count_lost(dataset, written - readable)
            report.count_broken_file(path, dataset, "truncated_gzip")
            return


def _readable_lines(data: bytes) -> int:
    """Complete lines a gzip reader gets out of `data` before it fails."""
    try:
        text = zlib.decompressobj(wbits=31).decompress(data)
    except zlib.error:
        return 0
    return text.count(b"\n")
