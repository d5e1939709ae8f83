"""`generate`: check the arguments, plan the small datasets and the defects, write the drops."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from generate.addresses import address, delivery
from generate.customers import plan_customers
from generate.defect_hours import DefectHours, plan_defect_hours, plan_orphans_later
from generate.defects import add_broken_customers, add_broken_products
from generate.drops import Plan, write_drops
from generate.erasure_requests import plan_erasure_requests
from generate.period import Period
from generate.products import plan_catalogue
from generate.randomness import Ids, stream
from generate.report import GenerationReport
from generate.transactions import Transactions

DEFAULT_SEED = 7
DEFAULT_START_DATE = date(2024, 1, 1)
DEFAULT_DAYS = 3
DEFAULT_CUSTOMERS_PER_HOUR = 3
DEFAULT_TRANSACTIONS_PER_HOUR = 15
DEFAULT_PRODUCTS = 60
DEFAULT_COMPRESSLEVEL = 6
# Addresses other than the customer's own that transactions are sometimes sent to.
_ADDRESS_POOL = 400


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

    # Each concern draws from its own stream, but the key streams (customer ids, skus) and the
    # defects stream serve several steps, so the order of the steps is part of the output.
    period = Period(start_date, days)
    report = GenerationReport(out=out, seed=seed, defects=defects)
    customer_ids = Ids(stream(seed, "customer-ids"), 0, 1_000_000)
    skus = Ids(stream(seed, "skus"), 10_000, 100_000)
    address_rng = stream(seed, "addresses")
    addresses = [delivery(address(address_rng)) for _ in range(_ADDRESS_POOL)]
    defect_rng = stream(seed, "defects")
    defect_hours = DefectHours()
    if defects:
        defect_hours = plan_defect_hours(defect_rng, period.hours, transactions_per_hour)
    product_rng = stream(seed, "products")
    catalogue = plan_catalogue(product_rng, skus, days, products, defects, report)
    if defects:
        add_broken_products(product_rng, catalogue.files[-1], skus, report)
    customer_rng = stream(seed, "customers")
    customers = plan_customers(
        customer_rng,
        period,
        customers_per_hour,
        defect_hours.not_gzip,
        customer_ids,
        defects,
        report,
    )
    not_gzip_customers: list[str] = []
    if defects:
        not_gzip_customers = add_broken_customers(
            customer_rng, customers.files, period, defect_hours.not_gzip, customer_ids, report
        )
        plan_orphans_later(defect_rng, defect_hours, customers.everyone)
    erasure_files = plan_erasure_requests(
        stream(seed, "erasure-requests"), customers.everyone, days, customer_ids, defects, report
    )
    transactions = Transactions(
        stream(seed, "transactions"),
        period,
        transactions_per_hour,
        defect_hours,
        addresses,
        customer_ids,
        skus,
        report,
    )
    plan = Plan(defect_hours, catalogue, customers, not_gzip_customers, erasure_files)
    write_drops(out, period, plan, transactions, compresslevel, report)
    return report
