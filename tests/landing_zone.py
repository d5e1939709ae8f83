"""Build small landing zones for tests, record by record."""

from __future__ import annotations

import gzip
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any


def customer(customer_id: str = "067318", **overrides: Any) -> dict[str, Any]:
    record = {
        "id": customer_id,
        "first_name": "Julie-Anne",
        "last_name": "Lyons",
        "date_of_birth": "1980-02-29",
        "email": f"person{customer_id}@example.com",
        "phone_number": "+44(0)808 157 0808",
        "address": "81 Marilyn crossing",
        "city": "Emer Ville",
        "country": "United Kingdom",
        "postcode": "E7 1NS",
        "last_change": "2020-01-03",
        "segment": "health",
    }
    record.update(overrides)
    return record


def product(sku: int = 99096, **overrides: Any) -> dict[str, Any]:
    record = {"sku": sku, "name": "Vitamin C", "price": "21.00", "category": "vitamin",
              "popularity": 0.5}  # fmt: skip
    record.update(overrides)
    return record


def transaction(
    transaction_id: str = "fd386f34-86e2-469a-90d1-2cf3f6c75a96",
    customer_id: str = "067318",
    lines: tuple[tuple[int, int, str], ...] = ((99096, 2, "21.00"),),
    **overrides: Any,
) -> dict[str, Any]:
    """A consistent transaction: lines are (sku, quantity, price)."""
    products = []
    for sku, quantity, price in lines:
        total = str(Decimal(price) * quantity)
        products.append({"sku": sku, "quanitity": quantity, "price": price, "total": total})
    record = {
        "transaction_id": transaction_id,
        "transaction_time": "2020-01-01T00:42:43.585342",
        "customer_id": customer_id,
        "delivery_address": {
            "address": "17 Heffron Street",
            "postcode": "d06ehha",
            "city": "Mariastad",
            "country": "Republic of Ireland",
        },
        "purchases": {
            "products": products,
            "total_cost": str(sum(Decimal(p["total"]) for p in products)),
        },
    }
    record.update(overrides)
    return record


def write(
    root: Path,
    dataset: str,
    records: list[Any],
    day: str = "2020-01-01",
    hour: int = 0,
    gz: bool = True,
) -> Path:
    """Write records (dicts as JSON, bytes/str as raw lines) to a drop; return its path."""
    lines = []
    for record in records:
        if isinstance(record, bytes):
            lines.append(record)
        elif isinstance(record, str):
            lines.append(record.encode())
        else:
            lines.append(json.dumps(record).encode())
    data = b"".join(line + b"\n" for line in lines)
    path = root / f"date={day}" / f"hour={hour:02d}" / f"{dataset}.json{'.gz' if gz else ''}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def populate(
    root: Path,
    days: int = 2,
    hours: int = 4,
    transactions_per_file: int = 200,
    customers_per_file: int = 20,
    seed: int = 0,
) -> list[Path]:
    """A landing zone of many files with every kind of interplay: daily catalogues, customers
    updated across hours, transactions repeated across files, and erasure requests for
    customers who appear before and after them. Same seed, same bytes."""
    rng = random.Random(seed)
    paths = []
    skus = list(range(1, 41))
    customer_ids = [f"{n:06d}" for n in range(1, 4 * customers_per_file + 1)]
    transaction_ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 10**6)]
    seen: list[str] = []
    for day_number in range(days):
        day = f"2020-01-{day_number + 1:02d}"
        catalogue = [product(sku, price=f"{rng.randint(1, 90)}.{rng.randint(0, 99):02d}")
                     for sku in skus if rng.random() < 0.9]  # fmt: skip
        paths.append(write(root, "products", catalogue, day))
        for hour in range(hours):
            changed = f"2020-01-{day_number + 1:02d}"
            people = [
                customer(customer_id, last_change=changed, city=f"City {rng.randint(1, 9)}")
                for customer_id in rng.sample(customer_ids, customers_per_file)
            ]
            paths.append(write(root, "customers", people, day, hour))
            sales = []
            for _ in range(transactions_per_file):
                if seen and rng.random() < 0.05:  # a transaction the feed sends again
                    transaction_id = rng.choice(seen)
                else:
                    transaction_id = transaction_ids[len(seen)]
                    seen.append(transaction_id)
                lines = tuple(
                    (rng.choice(skus), rng.randint(1, 3), f"{rng.randint(1, 50)}.00")
                    for _ in range(rng.randint(1, 3))
                )
                sales.append(transaction(transaction_id, rng.choice(customer_ids), lines))
            paths.append(write(root, "transactions", sales, day, hour))
            if hour == hours // 2:
                erased = rng.sample(customer_ids, 2)
                requests = [
                    {"customer-id": customer_id, "email": f"person{customer_id}@example.com"}
                    for customer_id in erased
                ]
                paths.append(write(root, "erasure-requests", requests, day, hour))
    return paths
