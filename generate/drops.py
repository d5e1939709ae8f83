"""Writing the planned drops hour by hour, each file in its hour's partition, as a feed sends them.

At 00:00 of each day come the products file and that day's erasure requests; in any hour a
customers file if one is planned, and always a transactions file, drawn while it is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from generate.customers import Customer, Customers
from generate.defect_hours import DefectHours
from generate.defects import write_not_gzip, write_truncated
from generate.erasure_requests import ErasureFiles
from generate.files import write_lines
from generate.period import Period
from generate.products import Catalogue
from generate.report import GenerationReport
from generate.transactions import Transactions


@dataclass
class Plan:
    """Everything decided before the first file is written; only transactions are left to draw."""

    defect_hours: DefectHours
    catalogue: Catalogue
    customers: Customers
    not_gzip_customers: list[str]
    erasure_files: ErasureFiles


def write_drops(
    out: Path,
    period: Period,
    plan: Plan,
    transactions: Transactions,
    compresslevel: int,
    report: GenerationReport,
) -> None:
    """Write every hour of `period` under `out`, counting each file into `report`."""

    def write(path: Path, dataset: str, lines: Iterable[str]) -> None:
        written = write_lines(path, lines, compresslevel)
        report.count_file(dataset, written, written)

    def write_erasure_requests(day: int) -> None:
        for name, lines in plan.erasure_files.get(day, ()):
            write(period.folder(out, day * 24) / name, "erasure-requests", lines)

    arrivals: dict[int, list[Customer]] = {}
    updates: dict[int, list[Customer]] = {}
    for customer in plan.customers.everyone:
        arrivals.setdefault(customer.arrival, []).append(customer)
        if customer.update_hour is not None:
            updates.setdefault(customer.update_hour, []).append(customer)
    for hour in range(period.hours):
        folder = period.folder(out, hour)
        if hour % 24 == 0:
            day = hour // 24
            write(folder / "products.json.gz", "products", plan.catalogue.files[day])
            transactions.change_catalogue(plan.catalogue.changes[day])
            write_erasure_requests(day)
        for customer in arrivals.get(hour, ()):
            transactions.arrive(customer)
        for customer in updates.get(hour, ()):
            transactions.move(customer)
        customers_path = folder / "customers.json.gz"
        if hour == plan.defect_hours.not_gzip:
            write_not_gzip(customers_path, "customers", plan.not_gzip_customers, report)
        elif hour in plan.customers.files:
            write(customers_path, "customers", plan.customers.files[hour])
        path = folder / "transactions.json.gz"
        if hour == plan.defect_hours.truncated:
            write_truncated(path, "transactions", transactions.lines(hour), compresslevel, report)
        else:
            write(path, "transactions", transactions.lines(hour))
    # Requests on the day after the last are the only files of that day.
    write_erasure_requests(period.days)
    # Repeats and broken lines come on top of each hour's distinct transactions.
    report.distinct["transactions"] = (
        period.hours * transactions.per_hour - report.lost_records["transactions"]
    )
