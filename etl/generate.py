"""Seeded synthetic landing-zone drops in the source feed's exact format, quirks and breakage."""

from __future__ import annotations

import gzip
import json
import random
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import click

DATASETS = ("customers", "transactions", "products", "erasure-requests")
DEFAULT_SEED = 7
DEFAULT_START_DATE = date(2024, 1, 1)
DEFAULT_DAYS = 3
DEFAULT_CUSTOMERS_PER_HOUR = 3
DEFAULT_TRANSACTIONS_PER_HOUR = 15
DEFAULT_PRODUCTS = 60
DEFAULT_COMPRESSLEVEL = 6

_FIRST_NAMES = (
    "James", "Olivia", "Liam", "Aoife", "Sean", "Niamh", "Emma", "Jack", "Ciara", "Thomas",
    "Sophie", "Conor", "Grace", "Oliver", "Amelia", "Harry", "Isla", "Darragh", "Chloe", "George",
    "Ella", "Patrick", "Mia", "Daniel", "Lucy", "Cian", "Hannah", "Noah", "Ruby", "Eoin", "Freya",
    "Ryan", "Julie-Anne", "Mary-Kate", "Siobhan", "Oisin", "Margaret", "Peter", "Helen", "David",
    "Sarah", "Michael", "Laura", "Paul", "Fiona", "Declan", "Rachel", "Gareth", "Bronagh", "Aled",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Jones", "Williams", "Brown", "Taylor", "Davies", "Evans", "Wilson", "Roberts",
    "Murphy", "Kelly", "O'Sullivan", "Walsh", "O'Brien", "Byrne", "Ryan", "O'Connor", "McCarthy",
    "Doyle", "Gallagher", "Campbell", "Stewart", "MacDonald", "Hughes", "Patel", "Khan", "Clarke",
    "Lewis", "Walker", "Robinson", "Wright", "Thompson", "White", "Hall", "Green", "Wood",
    "Harris", "Martin", "Jackson", "Fitzgerald", "Quinn", "Nolan", "Price", "Morgan", "Lloyd",
)  # fmt: skip
_STREETS = (
    "High", "Station", "Church", "Mill", "Park", "Victoria", "Green", "Manor", "Kings", "Queens",
    "Grange", "Meadow", "Oak", "Willow", "Castle", "Bridge", "Chapel", "Main", "New", "School",
    "Harbour", "Abbey", "Orchard", "Riverside", "Elm",
)  # fmt: skip
_STREET_TYPES = (
    "Street", "Road", "Lane", "Avenue", "Close", "Drive", "Way", "Crescent", "Terrace",
    "Gardens", "Place", "Court", "Hill", "Row",
)  # fmt: skip
_HOUSE_NAMES = ("Rose Cottage", "The Old Rectory", "Ivy House", "Hillcrest", "The Willows")
_UK_PLACES = (
    ("London", ("SW", "SE", "E", "N", "NW", "W", "EC", "WC")), ("Birmingham", ("B",)),
    ("Manchester", ("M",)), ("Liverpool", ("L",)), ("Leeds", ("LS",)), ("Sheffield", ("S",)),
    ("Glasgow", ("G",)), ("Edinburgh", ("EH",)), ("Cardiff", ("CF",)), ("Belfast", ("BT",)),
    ("Newcastle upon Tyne", ("NE",)), ("Bristol", ("BS",)), ("Oxford", ("OX",)),
    ("Cambridge", ("CB",)), ("Nottingham", ("NG",)), ("Leicester", ("LE",)), ("York", ("YO",)),
    ("Aberdeen", ("AB",)), ("Plymouth", ("PL",)), ("Swansea", ("SA",)),
)  # fmt: skip
_IE_PLACES = (
    ("Dublin", (*(f"D{n:02d}" for n in range(1, 25)), "D6W")), ("Cork", ("T12", "T23")),
    ("Galway", ("H91",)), ("Limerick", ("V94",)), ("Waterford", ("X91",)),
    ("Kilkenny", ("R95",)), ("Athlone", ("N37",)), ("Sligo", ("F91",)), ("Drogheda", ("A92",)),
    ("Wexford", ("Y35",)), ("Tralee", ("V92",)),
)  # fmt: skip
_UK_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_EIRCODE_CHARS = "0123456789ACDEFHKNPRTVWXY"
_UK_COUNTRY = "United Kingdom"
_IE_COUNTRY = "Republic of Ireland"
# Ofcom's drama ranges, so no generated UK number belongs to anybody: (area, subscriber prefix).
_UK_NUMBERS = (
    ("113", "4960"), ("114", "4960"), ("115", "4960"), ("116", "4960"), ("117", "4960"),
    ("118", "4960"), ("121", "4960"), ("131", "4960"), ("141", "4960"), ("151", "4960"),
    ("161", "4960"), ("191", "4980"), ("20", "79460"), ("808", "1570"), ("7700", "900"),
    ("1632", "960"),
)  # fmt: skip
_IE_NUMBERS = (("1", ""), ("21", ""), ("91", ""), ("85", ""), ("87", ""))
_TRUNK_FORMATS = (
    "0{a} {s}", "0{a} {r}", "(0{a}) {s}", "(0{a}) {r}", "(0{a}){r}", "0{a}{r}",
    "+{cc}{a} {s}", "+{cc}{a} {r}", "+{cc}(0){a} {s}", "+{cc}(0){a} {r}", "+{cc}(0){a}{r}",
    "+{cc}{a}{r}", "+{cc} {a} {s}",
)  # fmt: skip
_US_FORMATS = (
    "{a}.{e}.{n}", "({a}){e}-{n}", "{a}-{e}-{n}", "001-{a}-{e}-{n}", "+1-{a}-{e}-{n}",
    "({a}) {e}-{n}",
)  # fmt: skip
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
_SEGMENTS = (None, "health", "sports", "beauty")
_SEGMENT_WEIGHTS = (43, 33, 14, 10)
_CATEGORIES = ("vitamin", "beauty", "sports", "misc", "food")
_CATEGORY_WEIGHTS = (47, 20, 20, 8, 5)
_PRODUCT_WORDS = {
    "vitamin": (
        ("Vitamin C", "Vitamin D3", "Omega-3", "Multivitamin", "Zinc", "Magnesium", "Iron",
         "Biotin", "Vitamin B12", "Probiotic", "Folic Acid", "Calcium"),
        ("Tablets", "Capsules", "Gummies", "Softgels", "Drops", "Effervescent"),
    ),
    "beauty": (
        ("Hydrating", "Gentle", "Brightening", "Overnight", "Daily", "Soothing", "Argan"),
        ("Face Cream", "Serum", "Cleanser", "Lip Balm", "Shampoo", "Body Lotion", "Hand Cream"),
    ),
    "sports": (
        ("Whey Protein", "Energy Gel", "Creatine", "Electrolyte Tabs", "Protein Bar", "BCAA"),
        ("Chocolate", "Vanilla", "Berry", "Lemon", "Unflavoured", "Salted Caramel"),
    ),
    "misc": (
        ("Pill Organiser", "Gift Card", "Travel Bag", "Water Bottle", "Hot Water Bottle"),
        ("Small", "Large", "Blue", "Green", "Classic"),
    ),
    "food": (
        ("Oat", "Almond", "Granola", "Peanut Butter", "Green Tea", "Dark Chocolate", "Honey"),
        ("Bites", "Clusters", "Spread", "Bar", "Mix"),
    ),
}  # fmt: skip
_PENCE = (99, 0, 50, 98, 95, 25, 10)
_PENCE_WEIGHTS = (25, 25, 12, 12, 8, 7, 3)
_ITEM_COUNTS = tuple(range(1, 11))
_ITEM_COUNT_CUM = (39, 51, 63, 75, 87, 89.5, 92, 94.5, 97, 100)
_QUANTITIES = (1, 2, 3, 4, 5)
_QUANTITY_CUM = (80, 85, 90, 95, 100)
_BATCH_LINES = 4096
_CUSTOMER_FILE_CHANCE = 0.5
_UPDATE_CHANCE = 0.3
_FIRST_CATALOGUE_SHARE = 0.7
_REPRICED_PER_DAY = 2
_HOUR_REPEAT_LINES = 5
_HOUR_REPEAT_COPIES = 3
_ERASURE_DAY_CHANCE = 0.7
_OWN_ADDRESS_CHANCE = 0.5
_ADDRESS_POOL = 400
# Each kind of broken transaction line, and the report kind it is counted under.
_BROKEN_TRANSACTIONS = {
    "bad_json": "bad_json",
    "wrong_type_sku": "wrong_type",
    "wrong_type_quantity": "wrong_type",
    "missing_field": "missing_field",
    "extra_field": "extra_field",
    "inconsistent_line_total": "inconsistent_total",
    "inconsistent_total_cost": "inconsistent_total",
}
_TRUNCATE_FRACTIONS = (0.6, 0.5, 0.7, 0.4, 0.8, 0.3, 0.9, 0.2)
_MICROSECONDS_PER_HOUR = 3_600_000_000


def _counters() -> dict[str, Counter[str]]:
    return {dataset: Counter() for dataset in DATASETS}


def _zeros() -> dict[str, int]:
    return dict.fromkeys(DATASETS, 0)


@dataclass
class GenerationReport:
    """What `generate` wrote, per dataset, with every quirk and breakage it put in on purpose.

    `records` counts the lines a reader gets back from the files, broken lines included; lines
    written into a file that cannot be read whole, and lost with it, are in `lost_records`.
    `broken` counts lines that must be rejected, by kind; `broken_files` counts unreadable files
    by kind and `broken_paths` names them. `quirks` counts valid records showing one of the
    feed's known defects (duplicates, orphans, missing e-mails...); `updates` counts records
    re-sent later with a newer version; `distinct` counts distinct keys among valid records
    (customer id, sku, transaction id, customer id of an erasure request).
    """

    out: Path
    seed: int
    defects: bool
    files: dict[str, int] = field(default_factory=_zeros)
    records: dict[str, int] = field(default_factory=_zeros)
    lost_records: dict[str, int] = field(default_factory=_zeros)
    distinct: dict[str, int] = field(default_factory=_zeros)
    updates: dict[str, int] = field(default_factory=_zeros)
    quirks: dict[str, Counter[str]] = field(default_factory=_counters)
    broken: dict[str, Counter[str]] = field(default_factory=_counters)
    broken_files: dict[str, Counter[str]] = field(default_factory=_counters)
    broken_paths: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> dict[str, int]:
        """Readable lines that are not broken, per dataset (duplicates included)."""
        return {d: self.records[d] - sum(self.broken[d].values()) for d in DATASETS}

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return {
            "out": str(self.out),
            "seed": self.seed,
            "defects": self.defects,
            "files": self.files,
            "records": self.records,
            "valid": self.valid,
            "lost_records": self.lost_records,
            "distinct": self.distinct,
            "updates": self.updates,
            "quirks": {d: dict(sorted(c.items())) for d, c in self.quirks.items()},
            "broken": {d: dict(sorted(c.items())) for d, c in self.broken.items()},
            "broken_files": {d: dict(sorted(c.items())) for d, c in self.broken_files.items()},
            "broken_paths": dict(sorted(self.broken_paths.items())),
        }

    def summary(self) -> str:
        """A few human-readable lines for the command line."""
        lines = [f"wrote {self.out} (seed {self.seed}, defects {'on' if self.defects else 'off'})"]
        for dataset in DATASETS:
            parts = [
                f"{self.files[dataset]} files",
                f"{self.records[dataset]} lines",
                f"{self.distinct[dataset]} distinct",
            ]
            if self.lost_records[dataset]:
                parts.append(f"{self.lost_records[dataset]} lost in broken files")
            broken = self.broken[dataset] + self.broken_files[dataset]
            if broken:
                parts.append("broken " + ", ".join(f"{k}={v}" for k, v in sorted(broken.items())))
            lines.append(f"  {dataset}: " + "; ".join(parts))
        return "\n".join(lines)


@dataclass(eq=False)
class _Customer:
    record: dict[str, Any]
    arrival: int
    update_hour: int | None = None
    update: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.record["id"]

    @property
    def has_clean_email(self) -> bool:
        email = self.record["email"]
        return email is not None and email == email.strip().lower()


@dataclass
class _Plan:
    """Hours (index = day * 24 + hour) where the injected defects go; None or empty when off."""

    repeat_across: int | None = None
    repeat_within: int | None = None
    truncated: int | None = None
    not_gzip: int | None = None
    broken_tx: dict[int, list[str]] = field(default_factory=dict)
    orphan_never: set[int] = field(default_factory=set)
    orphan_later: dict[int, _Customer] = field(default_factory=dict)
    unknown_sku: set[int] = field(default_factory=set)
    taken: set[int] = field(default_factory=set)


class _Ids:
    """Unique random integers, so no two generated records share a key by accident."""

    def __init__(self, rng: random.Random, low: int, high: int) -> None:
        self._rng, self._low, self._high = rng, low, high
        self._used: set[int] = set()

    def new(self) -> int:
        while True:
            value = self._rng.randrange(self._low, self._high)
            if value not in self._used:
                self._used.add(value)
                return value


def generate(
    out: Path,
    seed: int = DEFAULT_SEED,
    start_date: date = DEFAULT_START_DATE,
    days: int = DEFAULT_DAYS,
    customers_per_hour: int = DEFAULT_CUSTOMERS_PER_HOUR,
    transactions_per_hour: int = DEFAULT_TRANSACTIONS_PER_HOUR,
    products: int = DEFAULT_PRODUCTS,
    defects: bool = True,
    compresslevel: int = DEFAULT_COMPRESSLEVEL,
) -> GenerationReport:
    """Write `days` days of hourly drops under `out` and report what was written.

    Same arguments give byte-identical files. Transactions are streamed to their files, so
    memory stays flat however many there are. With `defects`, the feed's quirks and a counted
    set of broken lines and files are mixed in; without, every record is valid and consistent.

    Raises:
        ValueError: a count is below 1, or compresslevel is not 0-9.
        FileExistsError: `out` already holds date=... partitions (they would mix with these).
    """
    for name, value in (
        ("days", days),
        ("customers_per_hour", customers_per_hour),
        ("transactions_per_hour", transactions_per_hour),
        ("products", products),
    ):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, not {value}")
    if not 0 <= compresslevel <= 9:
        raise ValueError(f"compresslevel must be 0-9, not {compresslevel}")
    out = Path(out)
    if out.is_dir() and any(out.glob("date=*")):
        raise FileExistsError(f"{out} already holds date=... partitions; remove them first")
    generator = _Generator(
        out, seed, start_date, days, customers_per_hour, transactions_per_hour, products, defects
    )
    return generator.run(compresslevel)


def _rng(seed: int, stream: str) -> random.Random:
    # One stream per concern, so changing one volume does not reshuffle the other datasets.
    return random.Random(f"{seed}:{stream}")


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(money: str) -> int:
    return int(money.replace(".", ""))


def _digits(rng: random.Random, count: int) -> str:
    return f"{rng.randrange(10**count):0{count}d}"


def _sample(rng: random.Random, pool: list[Any], rate: float) -> list[Any]:
    """At least one, about `rate` of the pool, so small samples still show every quirk."""
    return rng.sample(pool, min(len(pool), max(1, round(len(pool) * rate))))


def _customer_quirks(record: dict[str, Any]) -> Iterator[str]:
    """The feed's known defects that a valid customer line shows."""
    email, phone, postcode = record["email"], record["phone_number"], record["postcode"]
    names = (record["first_name"], record["last_name"])
    if email is None:
        yield "missing_email"
    else:
        if email != email.strip():
            yield "padded_email"
        if email != email.lower():
            yield "upper_case_email"
    if None in names:
        yield "missing_name"
    if any(name is not None and name != name.strip() for name in names):
        yield "padded_name"
    if phone is not None and not (phone.startswith("+") and phone[1:].isdigit()):
        yield "messy_phone"
    if " " not in postcode or postcode != postcode.upper():
        yield "messy_postcode"


def _product_quirks(record: dict[str, Any]) -> Iterator[str]:
    if record["price"] == "0.00":
        yield "zero_price"
    if record["popularity"] == 0.0:
        yield "zero_popularity"
    if record["name"] is None:
        yield "missing_name"


def _item(good: tuple[int, int], quantity: int) -> tuple[str, int]:
    """A purchased line's JSON, and its total in pence."""
    sku, cents = good
    total = cents * quantity
    text = json.dumps(
        {"sku": sku, "quanitity": quantity, "price": _money(cents), "total": _money(total)}
    )
    return text, total


def _readable_lines(data: bytes) -> int:
    """Complete lines a gzip reader gets out of `data` before it fails."""
    try:
        text = zlib.decompressobj(wbits=31).decompress(data)
    except zlib.error:
        return 0
    return text.count(b"\n")


class _Generator:
    """Plans the small datasets and the defects up front, then writes hour by hour."""

    def __init__(
        self,
        out: Path,
        seed: int,
        start_date: date,
        days: int,
        customers_per_hour: int,
        transactions_per_hour: int,
        products: int,
        defects: bool,
    ) -> None:
        self.out = out
        self.start = start_date
        self.days = days
        self.hours = days * 24
        self.customers_per_hour = customers_per_hour
        self.transactions_per_hour = transactions_per_hour
        self.product_count = products
        self.defects = defects
        self.compresslevel = DEFAULT_COMPRESSLEVEL
        self.report = GenerationReport(out=out, seed=seed, defects=defects)
        self.plan_rng = _rng(seed, "defects")
        self.address_rng = _rng(seed, "addresses")
        self.customer_rng = _rng(seed, "customers")
        self.product_rng = _rng(seed, "products")
        self.tx_rng = _rng(seed, "transactions")
        self.erasure_rng = _rng(seed, "erasure-requests")
        self.customer_ids = _Ids(_rng(seed, "customer-ids"), 0, 1_000_000)
        self.skus = _Ids(_rng(seed, "skus"), 10_000, 100_000)
        self.plan = _Plan()
        self.addresses: list[str] = []
        self.items: dict[tuple[tuple[int, int], int], tuple[str, int]] = {}
        self.customers: list[_Customer] = []
        self.customer_files: dict[int, list[str]] = {}
        self.not_gzip_lines: list[str] = []
        self.product_files: list[list[str]] = []
        self.catalogue_changes: list[list[tuple[int, int, float]]] = []
        self.erasure_files: dict[int, list[tuple[str, list[str]]]] = {}
        self.carried_line: str | None = None

    def run(self, compresslevel: int) -> GenerationReport:
        self.compresslevel = compresslevel
        address_rng = self.address_rng
        self.addresses = [self._delivery(self._address(address_rng)) for _ in range(_ADDRESS_POOL)]
        if self.defects:
            self._plan_defect_hours()
        self._plan_products()
        self._plan_customers()
        if self.defects:
            self._plan_orphans_later()
        self._plan_erasure_requests()
        self._write_all()
        return self.report

    # -- planning: everything except transactions is small and decided up front ------------

    def _plan_defect_hours(self) -> None:
        rng, plan = self.plan_rng, self.plan
        hours = list(range(1, self.hours))
        rng.shuffle(hours)
        plan.repeat_across = next(h for h in hours if h + 1 < self.hours)
        plan.taken = {plan.repeat_across, plan.repeat_across + 1}

        def take() -> int:
            hour = next(h for h in hours if h not in plan.taken)
            plan.taken.add(hour)
            return hour

        plan.repeat_within = take()
        if self.transactions_per_hour >= 2:
            plan.truncated = take()
        plan.not_gzip = take()
        broken_hours = [take() for _ in range(3)]
        for index, kind in enumerate(_BROKEN_TRANSACTIONS):
            plan.broken_tx.setdefault(broken_hours[index % 3], []).append(kind)
        plan.orphan_never = {take(), take()}
        plan.unknown_sku = {take()}

    def _plan_orphans_later(self) -> None:
        candidates = [c for c in self.customers if c.arrival >= 1]
        self.plan_rng.shuffle(candidates)
        for customer in candidates:
            hour = customer.arrival - 1
            if hour not in self.plan.taken:
                self.plan.taken.add(hour)
                self.plan.orphan_later[hour] = customer
                if len(self.plan.orphan_later) == 2:
                    return

    def _plan_products(self) -> None:
        rng, report = self.product_rng, self.report
        first = self.product_count
        if self.days > 1:
            first = max(1, round(self.product_count * _FIRST_CATALOGUE_SHARE))
        rest, later_days = self.product_count - first, self.days - 1
        new_per_day = [first] + [
            rest // later_days + (1 if day < rest % later_days else 0) for day in range(later_days)
        ]
        published: list[dict[str, Any]] = []
        for day, count in enumerate(new_per_day):
            new = [self._product(rng) for _ in range(count)]
            records = list(new)
            if day == 0 and self.defects:
                for record in _sample(rng, records, 1 / 30):
                    record["price"] = "0.00"
                rng.choice(records)["popularity"] = 0.0
                rng.choice(records)["name"] = None
            if day > 0:
                for old in rng.sample(published, min(_REPRICED_PER_DAY, len(published))):
                    repriced = dict(old, price=self._new_price(rng, old["price"]))
                    records.insert(rng.randrange(len(records) + 1), repriced)
                    report.updates["products"] += 1
            published.extend(new)
            for record in records:
                report.quirks["products"].update(_product_quirks(record))
            self.catalogue_changes.append(
                [(r["sku"], _cents(r["price"]), 0.05 + r["popularity"]) for r in records]
            )
            self.product_files.append([json.dumps(r) for r in records])
        report.distinct["products"] = len({r["sku"] for r in published})
        if self.defects:
            last = self.product_files[-1]
            wrong_type = dict(self._product(rng), sku="abc")
            last.insert(rng.randrange(len(last) + 1), json.dumps(wrong_type))
            report.broken["products"]["wrong_type"] += 1
            missing = self._product(rng)
            del missing["price"]
            last.insert(rng.randrange(len(last) + 1), json.dumps(missing))
            report.broken["products"]["missing_field"] += 1

    def _product(self, rng: random.Random) -> dict[str, Any]:
        category = rng.choices(_CATEGORIES, _CATEGORY_WEIGHTS)[0]
        first, second = _PRODUCT_WORDS[category]
        pounds, pence = rng.randint(1, 65), rng.choices(_PENCE, _PENCE_WEIGHTS)[0]
        return {
            "sku": self.skus.new(),
            "name": f"{rng.choice(first)} {rng.choice(second)}",
            "price": _money(pounds * 100 + pence),
            "category": category,
            "popularity": rng.random(),
        }

    @staticmethod
    def _new_price(rng: random.Random, price: str) -> str:
        while True:
            cents = rng.randint(1, 65) * 100 + rng.choices(_PENCE, _PENCE_WEIGHTS)[0]
            if cents != _cents(price):
                return _money(cents)

    def _plan_customers(self) -> None:
        rng, report = self.customer_rng, self.report
        entries: dict[int, list[tuple[bool, _Customer]]] = {}
        for hour in range(self.hours):
            if hour == self.plan.not_gzip or (hour and rng.random() >= _CUSTOMER_FILE_CHANCE):
                continue
            day = self._day(hour)
            hour_entries: list[tuple[bool, _Customer]] = []
            for _ in range(rng.randint(1, 2 * self.customers_per_hour - 1)):
                customer = _Customer(self._customer(rng, day), hour)
                hour_entries.append((False, customer))
                self.customers.append(customer)
            earlier = [c for c in self.customers if c.arrival < hour and c.update_hour is None]
            if earlier and rng.random() < _UPDATE_CHANCE:
                customer = rng.choice(earlier)
                customer.update_hour = hour
                hour_entries.insert(rng.randrange(len(hour_entries) + 1), (True, customer))
            entries[hour] = hour_entries
        if self.defects:
            self._add_customer_quirks(rng)
        for hour, hour_entries in entries.items():
            lines = self.customer_files[hour] = []
            for is_update, customer in hour_entries:
                record = customer.record
                if is_update:
                    record = customer.update = self._moved(rng, record, self._day(hour))
                    report.updates["customers"] += 1
                report.quirks["customers"].update(_customer_quirks(record))
                lines.append(json.dumps(record))
        report.distinct["customers"] = len(self.customers)
        if self.defects:
            self._add_customer_breakage(rng)

    def _add_customer_quirks(self, rng: random.Random) -> None:
        records = [c.record for c in self.customers]
        for record in _sample(rng, records, 0.03):
            record["email"] = None
        for record in _sample(rng, records, 0.02):
            record[rng.choice(("first_name", "last_name"))] = None
        named = [r for r in records if r["first_name"] is not None and r["last_name"] is not None]
        for record in _sample(rng, named, 0.03):
            key = rng.choice(("first_name", "last_name"))
            record[key] = rng.choice((" ", "  ", "")) + record[key] + rng.choice((" ", "\t"))
        with_email = [r for r in records if r["email"] is not None]
        for record in _sample(rng, with_email, 0.03):
            mixed = "".join(c.upper() if rng.random() < 0.5 else c for c in record["email"])
            record["email"] = mixed if mixed != record["email"] else mixed.upper()
        for record in _sample(rng, with_email, 0.02):
            record["email"] = " " + record["email"] + rng.choice(("", " "))
        for record in _sample(rng, records, 0.05):
            record["postcode"] = record["postcode"].replace(" ", "")
        for record in _sample(rng, records, 0.03):
            record["postcode"] = record["postcode"].lower()

    def _add_customer_breakage(self, rng: random.Random) -> None:
        hours = sorted(self.customer_files)
        for kind in ("wrong_type", "missing_field", "extra_field"):
            hour = rng.choice(hours)
            record = self._customer(rng, self._day(hour))
            if kind == "wrong_type":
                # What a producer that read the id as a number sends: leading zeros gone.
                record["id"] = int(record["id"])
            elif kind == "missing_field":
                del record["last_change"]
            else:
                record["loyalty_points"] = rng.randint(0, 5000)
            lines = self.customer_files[hour]
            lines.insert(rng.randrange(len(lines) + 1), json.dumps(record))
            self.report.broken["customers"][kind] += 1
        # The unreadable file holds only customers nobody references, so nothing else dangles.
        day = self._day(self.plan.not_gzip or 0)
        self.not_gzip_lines = [json.dumps(self._customer(rng, day)) for _ in range(2)]

    def _customer(self, rng: random.Random, day: date) -> dict[str, Any]:
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        address = self._address(rng)
        born = None
        if rng.random() < 0.35:
            born = (date(1930, 1, 1) + timedelta(days=rng.randrange(27_750))).isoformat()
        return {
            "id": f"{self.customer_ids.new():06d}",
            "first_name": first,
            "last_name": last,
            "date_of_birth": born,
            "email": self._email(rng, first, last),
            "phone_number": self._phone(rng, address["country"]) if rng.random() < 0.5 else None,
            "address": address["address"],
            "city": address["city"],
            "country": address["country"],
            "postcode": address["postcode"],
            "last_change": (day - timedelta(days=rng.randint(1, 90))).isoformat(),
            "segment": rng.choices(_SEGMENTS, _SEGMENT_WEIGHTS)[0],
        }

    def _moved(self, rng: random.Random, old: dict[str, Any], day: date) -> dict[str, Any]:
        """The customer's update: a new address, sometimes a new phone or segment, dated `day`."""
        address = self._address(rng)
        update = dict(old, last_change=day.isoformat())
        update.update(
            address=address["address"],
            city=address["city"],
            country=address["country"],
            postcode=address["postcode"],
        )
        if rng.random() < 0.5:
            update["phone_number"] = self._phone(rng, address["country"])
        if rng.random() < 0.3:
            update["segment"] = rng.choices(_SEGMENTS, _SEGMENT_WEIGHTS)[0]
        return update

    def _plan_erasure_requests(self) -> None:
        rng, report = self.erasure_rng, self.report
        requested: set[str] = set()
        planned: list[tuple[int, list[str]]] = []
        for day in range(1, self.days + 1):
            if day != self.days and rng.random() >= _ERASURE_DAY_CHANCE:
                continue
            eligible = self._erasable(day, requested)
            if not eligible:
                continue
            chosen = rng.sample(eligible, min(len(eligible), rng.randint(1, 3)))
            requested.update(c.id for c in chosen)
            planned.append((day, [self._erasure_line(c.id, c.record["email"]) for c in chosen]))
        if not self.defects or not planned:
            for day, lines in planned:
                self.erasure_files[day] = [("erasure-requests.json.gz", lines)]
        else:
            self._plan_erasure_quirks(rng, planned, requested)
        ids = set()
        for files in self.erasure_files.values():
            for _, lines in files:
                ids.update(json.loads(line)["customer-id"] for line in lines)
        report.distinct["erasure-requests"] = len(ids)

    def _plan_erasure_quirks(
        self, rng: random.Random, planned: list[tuple[int, list[str]]], requested: set[str]
    ) -> None:
        quirks = self.report.quirks["erasure-requests"]
        if len(planned) >= 2:
            plain_day, plain_lines = planned.pop(0)
            self.erasure_files[plain_day] = [("erasure-requests.json", plain_lines)]
            quirks["plain_json_files"] += 1
        both_day, both_lines = planned[0]
        self.erasure_files[both_day] = [
            ("erasure-requests.json", both_lines[:1]),
            ("erasure-requests.json.gz", both_lines),
        ]
        quirks["plain_json_files"] += 1
        quirks["both_forms"] += 1
        for day, lines in planned[1:]:
            self.erasure_files[day] = [("erasure-requests.json.gz", lines)]
        last_day, last_lines = planned[-1]
        odd = []
        eligible = self._erasable(last_day, requested)
        if eligible:
            customer = rng.choice(eligible)
            local, domain = customer.record["email"].split("@")
            other = next(d for d in _EMAIL_DOMAINS if d != domain)
            odd.append(self._erasure_line(customer.id, f"{local}@{other}"))
            quirks["email_mismatch"] += 1
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        unknown = f"{self.customer_ids.new():06d}"
        odd.append(self._erasure_line(unknown, self._email(rng, first, last)))
        quirks["unknown_customer"] += 1
        for line in odd:
            last_lines.insert(rng.randrange(len(last_lines) + 1), line)

    def _erasable(self, day: int, requested: set[str]) -> list[_Customer]:
        """Customers delivered before `day` whose one record has a tidy e-mail to match on."""
        return [
            c
            for c in self.customers
            if c.arrival < day * 24
            and c.update_hour is None
            and c.has_clean_email
            and c.id not in requested
        ]

    @staticmethod
    def _erasure_line(customer_id: str, email: str) -> str:
        return json.dumps({"customer-id": customer_id, "email": email})

    # -- value makers --------------------------------------------------------------------------

    def _day(self, hour: int) -> date:
        return self.start + timedelta(days=hour // 24)

    @staticmethod
    def _address(rng: random.Random) -> dict[str, str]:
        if rng.random() < 0.25:
            country = _IE_COUNTRY
            city, routing_keys = rng.choice(_IE_PLACES)
            postcode = f"{rng.choice(routing_keys)} {''.join(rng.choices(_EIRCODE_CHARS, k=4))}"
        else:
            country = _UK_COUNTRY
            city, areas = rng.choice(_UK_PLACES)
            area = rng.choice(areas)
            district = str(rng.randint(1, 29))
            if area in ("SW", "W", "EC", "WC") and rng.random() < 0.3:
                district = "1" + rng.choice("ABCEHPVWXY")
            inward = "".join(rng.choices(_UK_INWARD_LETTERS, k=2))
            postcode = f"{area}{district} {rng.randint(0, 9)}{inward}"
        street = f"{rng.randint(1, 250)} {rng.choice(_STREETS)} {rng.choice(_STREET_TYPES)}"
        roll = rng.random()
        if roll < 0.15:
            street = f"Flat {rng.randint(1, 40)}\n{street}"
        elif roll < 0.25:
            street = f"Apartment {rng.randint(1, 120)}\n{street}"
        elif roll < 0.3:
            street = f"{rng.choice(_HOUSE_NAMES)}\n{street.split(' ', 1)[1]}"
        return {"address": street, "postcode": postcode, "city": city, "country": country}

    @staticmethod
    def _email(rng: random.Random, first: str, last: str) -> str:
        first = first.lower().replace("'", "")
        last = last.lower().replace("'", "").replace("-", "")
        number = f"{rng.randint(0, 99):02d}"
        local = rng.choice(
            (first + last, first[0] + last, last + first, first + number, f"{first}.{last}")
        )
        return f"{local}@{rng.choice(_EMAIL_DOMAINS)}"

    def _phone(self, rng: random.Random, country: str) -> str:
        roll = rng.random()
        home_uk = country == _UK_COUNTRY
        if roll < 0.1:
            area, exchange, line = rng.randint(201, 989), rng.randint(200, 999), _digits(rng, 4)
            if not self.defects:
                return f"+1{area}{exchange}{line}"
            text = rng.choice(_US_FORMATS).format(a=area, e=exchange, n=line)
            if rng.random() < 0.4:
                text += f"x{rng.randint(100, 99999)}"
            return text
        uk = home_uk if roll >= 0.2 else not home_uk
        code, numbers = ("44", _UK_NUMBERS) if uk else ("353", _IE_NUMBERS)
        area, prefix = rng.choice(numbers)
        length = 10 if uk else (8 if area == "1" else 9)
        rest = prefix + _digits(rng, length - len(area) - len(prefix))
        if not self.defects:
            return f"+{code}{area}{rest}"
        split = {7: 3, 8: 4}.get(len(rest), len(rest))
        spaced = f"{rest[:split]} {rest[split:]}".strip()
        return rng.choice(_TRUNK_FORMATS).format(cc=code, a=area, r=rest, s=spaced)

    # -- writing ---------------------------------------------------------------------------

    def _write_all(self) -> None:
        pool: list[tuple[str, str]] = []
        slot: dict[str, int] = {}
        catalogue: dict[int, tuple[int, float]] = {}
        updates: dict[int, list[_Customer]] = {}
        for customer in self.customers:
            if customer.update_hour is not None:
                updates.setdefault(customer.update_hour, []).append(customer)
        arrivals: dict[int, list[_Customer]] = {}
        for customer in self.customers:
            arrivals.setdefault(customer.arrival, []).append(customer)
        goods: list[tuple[int, int]] = []
        weights: list[float] = []
        for hour in range(self.hours):
            folder = self._folder(hour)
            if hour % 24 == 0:
                day = hour // 24
                self._write_file(folder / "products.json.gz", "products", self.product_files[day])
                for sku, cents, weight in self.catalogue_changes[day]:
                    catalogue[sku] = (cents, weight)
                goods = [(sku, cents) for sku, (cents, _) in catalogue.items()]
                weights = list(accumulate(weight for _, weight in catalogue.values()))
                self._write_erasure_requests(day)
            for customer in arrivals.get(hour, ()):
                slot[customer.id] = len(pool)
                pool.append((customer.id, self._delivery(customer.record)))
            for customer in updates.get(hour, ()):
                if customer.update is not None:
                    pool[slot[customer.id]] = (customer.id, self._delivery(customer.update))
            if hour == self.plan.not_gzip:
                self._write_not_gzip(folder / "customers.json.gz", "customers")
            elif hour in self.customer_files:
                self._write_file(
                    folder / "customers.json.gz", "customers", self.customer_files[hour]
                )
            lines = self._transaction_lines(hour, pool, goods, weights)
            path = folder / "transactions.json.gz"
            if hour == self.plan.truncated:
                self._write_truncated(path, "transactions", lines)
            else:
                self._write_file(path, "transactions", lines)
        self._write_erasure_requests(self.days)
        report = self.report
        report.distinct["transactions"] = (
            self.hours * self.transactions_per_hour - report.lost_records["transactions"]
        )

    def _write_erasure_requests(self, day: int) -> None:
        for name, lines in self.erasure_files.get(day, ()):
            self._write_file(self._folder(day * 24) / name, "erasure-requests", lines)

    @staticmethod
    def _delivery(record: dict[str, Any]) -> str:
        """The record's address as the JSON of a transaction's delivery_address."""
        keys = ("address", "postcode", "city", "country")
        return json.dumps({key: record[key] for key in keys})

    def _folder(self, hour: int) -> Path:
        day = self.start + timedelta(days=hour // 24)
        return self.out / f"date={day.isoformat()}" / f"hour={hour % 24:02d}"

    def _transaction_lines(
        self,
        hour: int,
        pool: list[tuple[str, str]],
        goods: list[tuple[int, int]],
        weights: list[float],
    ) -> Iterator[str]:
        rng, plan, quirks = self.tx_rng, self.plan, self.report.quirks["transactions"]
        count = self.transactions_per_hour
        prefix = datetime.combine(self._day(hour), time(hour % 24)).strftime("%Y-%m-%dT%H:")
        inserts: dict[int, list[str]] = {}
        for kind in plan.broken_tx.get(hour, ()):
            line = self._transaction_line(rng, prefix, *rng.choice(pool), goods, weights)
            inserts.setdefault(rng.randrange(count + 1), []).append(
                self._broken_transaction(kind, line)
            )
        if hour - 1 == plan.repeat_across and self.carried_line is not None:
            # A late re-delivery: last hour's transaction again, identical to the byte.
            yield self.carried_line
            quirks["duplicate_across_hours"] += 1
        repeated: list[str] = []
        line = ""
        for index in range(count):
            yield from inserts.get(index, ())
            customer_id, delivery = rng.choice(pool)
            if index == 0 and hour in plan.orphan_later:
                customer = plan.orphan_later[hour]
                customer_id, delivery = customer.id, self._delivery(customer.record)
                quirks["orphan_customer_later"] += 1
            elif index == 0 and hour in plan.orphan_never:
                customer_id = f"{self.customer_ids.new():06d}"
                quirks["orphan_customer_never"] += 1
            if rng.random() >= _OWN_ADDRESS_CHANCE:
                delivery = rng.choice(self.addresses)
            line = self._transaction_line(rng, prefix, customer_id, delivery, goods, weights)
            if index == 0 and hour in plan.unknown_sku:
                record = json.loads(line)
                record["purchases"]["products"][0]["sku"] = self.skus.new()
                line = json.dumps(record)
                quirks["unknown_sku"] += 1
            if hour == plan.repeat_within and index < _HOUR_REPEAT_LINES:
                repeated.append(line)
            yield line
        yield from inserts.get(count, ())
        if repeated:
            # A batch re-sent within the hour, as the source does: the same lines again.
            for _ in range(_HOUR_REPEAT_COPIES - 1):
                yield from repeated
                quirks["duplicate_in_hour"] += len(repeated)
        if hour == plan.repeat_across:
            self.carried_line = line

    def _transaction_line(
        self,
        rng: random.Random,
        prefix: str,
        customer_id: str,
        delivery: str,
        goods: list[tuple[int, int]],
        weights: list[float],
    ) -> str:
        """A valid transaction, spelled out exactly as json.dumps writes it, but much faster.

        Addresses and purchased lines come pre-serialised; the tests hold every line to
        `json.dumps(json.loads(line)) == line`.
        """
        size = rng.choices(_ITEM_COUNTS, cum_weights=_ITEM_COUNT_CUM)[0]
        picked = rng.choices(goods, cum_weights=weights, k=size)
        quantities = rng.choices(_QUANTITIES, cum_weights=_QUANTITY_CUM, k=size)
        items, parts, total = self.items, [], 0
        for good, quantity in zip(picked, quantities, strict=True):
            item = items.get((good, quantity))
            if item is None:
                item = items[good, quantity] = _item(good, quantity)
            parts.append(item[0])
            total += item[1]
        seconds, micros = divmod(rng.randrange(_MICROSECONDS_PER_HOUR), 1_000_000)
        minutes, seconds = divmod(seconds, 60)
        transaction_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        return (
            f'{{"transaction_id": "{transaction_id}", '
            f'"transaction_time": "{prefix}{minutes:02d}:{seconds:02d}.{micros:06d}", '
            f'"customer_id": "{customer_id}", "delivery_address": {delivery}, '
            f'"purchases": {{"products": [{", ".join(parts)}], "total_cost": "{_money(total)}"}}}}'
        )

    def _broken_transaction(self, kind: str, line: str) -> str:
        self.report.broken["transactions"][_BROKEN_TRANSACTIONS[kind]] += 1
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
            item["total"] = _money(_cents(item["total"]) + 100)
            purchases["total_cost"] = _money(sum(_cents(i["total"]) for i in purchases["products"]))
        else:
            purchases["total_cost"] = _money(_cents(purchases["total_cost"]) + 100)
        return json.dumps(record)

    def _account(self, dataset: str, written: int, readable: int) -> None:
        report = self.report
        report.files[dataset] += 1
        report.records[dataset] += readable
        report.lost_records[dataset] += written - readable

    def _write_file(self, path: Path, dataset: str, lines: Iterable[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with path.open("wb") as raw:
            handle: Any = raw
            if path.suffix == ".gz":
                handle = gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, compresslevel=self.compresslevel, mtime=0
                )
            with handle:
                batch: list[str] = []
                for line in lines:
                    batch.append(line)
                    if len(batch) == _BATCH_LINES:
                        handle.write(("\n".join(batch) + "\n").encode())
                        written += len(batch)
                        batch.clear()
                if batch:
                    handle.write(("\n".join(batch) + "\n").encode())
                    written += len(batch)
        self._account(dataset, written, written)

    def _write_not_gzip(self, path: Path, dataset: str) -> None:
        # Plain JSON lines under a .gz name, as a producer that forgot to compress sends them.
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(("\n".join(self.not_gzip_lines) + "\n").encode())
        self._account(dataset, len(self.not_gzip_lines), 0)
        self._broken_file(path, dataset, "not_gzip")

    def _write_truncated(self, path: Path, dataset: str, lines: Iterable[str]) -> None:
        self._write_file(path, dataset, lines)
        data = path.read_bytes()
        written = _readable_lines(data)
        for fraction in _TRUNCATE_FRACTIONS:
            cut = data[: int(len(data) * fraction)]
            readable = _readable_lines(cut)
            if 0 < readable < written:
                path.write_bytes(cut)
                self.report.records[dataset] -= written - readable
                self.report.lost_records[dataset] += written - readable
                self._broken_file(path, dataset, "truncated_gzip")
                return

    def _broken_file(self, path: Path, dataset: str, kind: str) -> None:
        self.report.broken_files[dataset][kind] += 1
        self.report.broken_paths[path.relative_to(self.out).as_posix()] = kind


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Landing-zone root to write date=YYYY-MM-DD/hour=HH/ partitions into.",
)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True)
@click.option(
    "--start-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=DEFAULT_START_DATE.isoformat(),
    show_default=True,
)
@click.option("--days", type=click.IntRange(min=1), default=DEFAULT_DAYS, show_default=True)
@click.option(
    "--customers-per-hour",
    type=click.IntRange(min=1),
    default=DEFAULT_CUSTOMERS_PER_HOUR,
    show_default=True,
    help="Average new customers in an hour that has a customers file (about half do).",
)
@click.option(
    "--transactions-per-hour",
    type=click.IntRange(min=1),
    default=DEFAULT_TRANSACTIONS_PER_HOUR,
    show_default=True,
)
@click.option(
    "--products",
    type=click.IntRange(min=1),
    default=DEFAULT_PRODUCTS,
    show_default=True,
    help="Distinct products over all daily catalogues.",
)
@click.option(
    "--defects/--no-defects",
    default=True,
    show_default=True,
    help="Mix in the feed's quirks and counted broken lines and files.",
)
@click.option(
    "--compresslevel",
    type=click.IntRange(0, 9),
    default=DEFAULT_COMPRESSLEVEL,
    show_default=True,
    help="gzip level; 1 is much faster for benchmark volumes.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the generation report here as JSON.",
)
def main(
    out: Path,
    seed: int,
    start_date: datetime,
    days: int,
    customers_per_hour: int,
    transactions_per_hour: int,
    products: int,
    defects: bool,
    compresslevel: int,
    report_path: Path | None,
) -> None:
    """Generate a seeded, deterministic landing-zone sample in the source feed's format."""
    try:
        report = generate(
            out,
            seed=seed,
            start_date=start_date.date(),
            days=days,
            customers_per_hour=customers_per_hour,
            transactions_per_hour=transactions_per_hour,
            products=products,
            defects=defects,
            compresslevel=compresslevel,
        )
    except FileExistsError as error:
        raise click.UsageError(str(error)) from None
    if report_path is not None:
        report_path.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    click.echo(report.summary())


if __name__ == "__main__":
    main()
