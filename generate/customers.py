"""The customers dataset: who arrives in which hour, who is re-sent after a move, and the quirks.

About half the hours have a customers file (the first hour always); an hour's file may also
re-send one earlier customer with a new address. With defects, customer records show the
feed's known quirks: missing or padded names and e-mails, mixed-case e-mails, messy postcodes
and free-form phone numbers.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from generate.people import moved, new_customer
from generate.period import Period
from generate.randomness import Ids, sample
from generate.report import GenerationReport

_CUSTOMER_FILE_CHANCE = 0.5
_UPDATE_CHANCE = 0.3


@dataclass(eq=False)
class Customer:
    """A customer's record, the hour it is first delivered, and its one update if any."""

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
class Customers:
    """Every customer planned, in order of arrival, and the lines of each hour's file."""

    everyone: list[Customer] = field(default_factory=list)
    files: dict[int, list[str]] = field(default_factory=dict)


def plan_customers(
    rng: random.Random,
    period: Period,
    customers_per_hour: int,
    not_gzip_hour: int | None,
    customer_ids: Ids,
    defects: bool,
    report: GenerationReport,
) -> Customers:
    """The customers files of `period`, on average `customers_per_hour` new ones in each.

    The hour of the unreadable customers file, `not_gzip_hour`, gets no planned customers.
    """
    customers = Customers()
    entries: dict[int, list[tuple[bool, Customer]]] = {}
    for hour in range(period.hours):
        if hour == not_gzip_hour or (hour and rng.random() >= _CUSTOMER_FILE_CHANCE):
            continue
        day = period.day(hour)
        hour_entries: list[tuple[bool, Customer]] = []
        for _ in range(rng.randint(1, 2 * customers_per_hour - 1)):
            customer = Customer(new_customer(rng, day, customer_ids, defects), hour)
            hour_entries.append((False, customer))
            customers.everyone.append(customer)
        earlier = [c for c in customers.everyone if c.arrival < hour and c.update_hour is None]
        if earlier and rng.random() < _UPDATE_CHANCE:
            customer = rng.choice(earlier)
            customer.update_hour = hour
            hour_entries.insert(rng.randrange(len(hour_entries) + 1), (True, customer))
        entries[hour] = hour_entries
    if defects:
        _add_quirks(rng, [c.record for c in customers.everyone])
    for hour, hour_entries in entries.items():
        lines = customers.files[hour] = []
        for is_update, customer in hour_entries:
            record = customer.record
            if is_update:
                record = customer.update = moved(rng, record, period.day(hour), defects)
                report.updates["customers"] += 1
            report.quirks["customers"].update(_quirks(record))
            lines.append(json.dumps(record))
    report.distinct["customers"] = len(customers.everyone)
    return customers


def _add_quirks(rng: random.Random, records: list[dict[str, Any]]) -> None:
    for record in sample(rng, records, 0.03):
        record["email"] = None
    for record in sample(rng, records, 0.02):
        record[rng.choice(("first_name", "last_name"))] = None
    named = [r for r in records if r["first_name"] is not None and r["last_name"] is not None]
    for record in sample(rng, named, 0.03):
        key = rng.choice(("first_name", "last_name"))
        record[key] = rng.choice((" ", "  ", "")) + record[key] + rng.choice((" ", "\t"))
    with_email = [r for r in records if r["email"] is not None]
    for record in sample(rng, with_email, 0.03):
        mixed = "".join(c.upper() if rng.random() < 0.5 else c for c in record["email"])
        record["email"] = mixed if mixed != record["email"] else mixed.upper()
    for record in sample(rng, with_email, 0.02):
        record["email"] = " " + record["email"] + rng.choice(("", " "))
    for record in sample(rng, records, 0.05):
        record["postcode"] = record["postcode"].replace(" ", "")
    for record in sample(rng, records, 0.03):
        record["postcode"] = record["postcode"].lower()


def _quirks(record: dict[str, Any]) -> Iterator[str]:
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
