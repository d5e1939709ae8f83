"""The products dataset: a catalogue file each day, of new products and a few repriced ones."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from generate.money import format_money, parse_money
from generate.randomness import Ids, sample
from generate.report import GenerationReport
from generate.vocabulary import CATEGORIES, CATEGORY_WEIGHTS, PRODUCT_WORDS

# The pence of a price, weighted as a shop prices: mostly .99 or round pounds.
_PENCE = (99, 0, 50, 98, 95, 25, 10)
_PENCE_WEIGHTS = (25, 25, 12, 12, 8, 7, 3)
_FIRST_CATALOGUE_SHARE = 0.7
_REPRICED_PER_DAY = 2


@dataclass
class Catalogue:
    """Each day's products file, and what it changes for the transactions that follow.

    `changes` holds, per day, (sku, price in pence, weight) of every product in that day's
    file; the weight, popularity + 0.05, is how likely a transaction is to pick the product.
    """

    files: list[list[str]] = field(default_factory=list)
    changes: list[list[tuple[int, int, float]]] = field(default_factory=list)


def plan_catalogue(
    rng: random.Random,
    skus: Ids,
    days: int,
    products: int,
    defects: bool,
    report: GenerationReport,
) -> Catalogue:
    """`products` products over `days` daily files: most on the first day, the rest spread out.

    From the second day, each file also re-sends 2 earlier products with a new price. With
    `defects`, the first day has the feed's quirks: a zero price, a zero popularity, no name.
    """
    catalogue = Catalogue()
    first = products
    if days > 1:
        first = max(1, round(products * _FIRST_CATALOGUE_SHARE))
    rest, later_days = products - first, days - 1
    new_per_day = [first] + [
        rest // later_days + (1 if day < rest % later_days else 0) for day in range(later_days)
    ]
    published: list[dict[str, Any]] = []
    for day, count in enumerate(new_per_day):
        new = [new_product(rng, skus) for _ in range(count)]
        records = list(new)
        if day == 0 and defects:
            for record in sample(rng, records, 1 / 30):
                record["price"] = "0.00"
            rng.choice(records)["popularity"] = 0.0
            rng.choice(records)["name"] = None
        if day > 0:
            for old in rng.sample(published, min(_REPRICED_PER_DAY, len(published))):
                repriced = dict(old, price=_new_price(rng, old["price"]))
                records.insert(rng.randrange(len(records) + 1), repriced)
                report.updates["products"] += 1
        published.extend(new)
        for record in records:
            report.quirks["products"].update(_quirks(record))
        catalogue.changes.append(
            [(r["sku"], parse_money(r["price"]), 0.05 + r["popularity"]) for r in records]
        )
        catalogue.files.append([json.dumps(r) for r in records])
    report.distinct["products"] = len({r["sku"] for r in published})
    return catalogue


def new_product(rng: random.Random, skus: Ids) -> dict[str, Any]:
    """A product with a new sku, a name of its category's words and a price below 66.00."""
    category = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
    first, second = PRODUCT_WORDS[category]
    pounds, pence = rng.randint(1, 65), rng.choices(_PENCE, _PENCE_WEIGHTS)[0]
    return {
        "sku": skus.new(),
        "name": f"{rng.choice(first)} {rng.choice(second)}",
        "price": format_money(pounds * 100 + pence),
        "category": category,
        "popularity": rng.random(),
    }


def _new_price(rng: random.Random, price: str) -> str:
    while True:
        cents = rng.randint(1, 65) * 100 + rng.choices(_PENCE, _PENCE_WEIGHTS)[0]
        if cents != parse_money(price):
            return format_money(cents)


def _quirks(record: dict[str, Any]) -> Iterator[str]:
    """The feed's known defects that a valid product line shows."""
    if record["price"] == "0.00":
        yield "zero_price"
    if record["popularity"] == 0.0:
        yield "zero_popularity"
    if record["name"] is None:
        yield "missing_name"
