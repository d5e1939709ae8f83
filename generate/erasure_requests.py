"""The erasure-requests dataset: GDPR requests naming a customer by id and e-mail, at 00:00.

Some days have requests, and the day after the last always does. With defects, the feed's
quirks: a day sent as plain JSON, a day sent in both forms, a request whose e-mail is not the
customer's and one for a customer that does not exist.
"""

from __future__ import annotations

import json
import random

from generate.customers import Customer
from generate.people import email
from generate.randomness import Ids
from generate.report import GenerationReport
from generate.vocabulary import EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES

# Day (0 = the first day) -> the day's erasure-request files, as (file name, lines).
ErasureFiles = dict[int, list[tuple[str, list[str]]]]

_ERASURE_DAY_CHANCE = 0.7


def plan_erasure_requests(
    rng: random.Random,
    customers: list[Customer],
    days: int,
    customer_ids: Ids,
    defects: bool,
    report: GenerationReport,
) -> ErasureFiles:
    """Requests for 1 to 3 customers delivered earlier, on some days after the first.

    Day `days`, the day after the last, always has requests. A customer is named once at most,
    and only when their one record has a tidy e-mail, so that every request but the deliberate
    odd ones matches a customer.
    """
    requested: set[str] = set()
    planned: list[tuple[int, list[str]]] = []
    for day in range(1, days + 1):
        if day != days and rng.random() >= _ERASURE_DAY_CHANCE:
            continue
        eligible = _erasable(customers, day, requested)
        if not eligible:
            continue
        chosen = rng.sample(eligible, min(len(eligible), rng.randint(1, 3)))
        requested.update(c.id for c in chosen)
        planned.append((day, [_line(c.id, c.record["email"]) for c in chosen]))
    files: ErasureFiles = {}
    if not defects or not planned:
        for day, lines in planned:
            files[day] = [("erasure-requests.json.gz", lines)]
    else:
        _add_quirks(rng, files, planned, customers, requested, customer_ids, report)
    ids = set()
    for day_files in files.values():
        for _, lines in day_files:
            ids.update(json.loads(line)["customer-id"] for line in lines)
    report.distinct["erasure-requests"] = len(ids)
    return files


def _add_quirks(
    rng: random.Random,
    files: ErasureFiles,
    planned: list[tuple[int, list[str]]],
    customers: list[Customer],
    requested: set[str],
    customer_ids: Ids,
    report: GenerationReport,
) -> None:
    quirks = report.quirks["erasure-requests"]
    if len(planned) >= 2:
        plain_day, plain_lines = planned.pop(0)
        files[plain_day] = [("erasure-requests.json", plain_lines)]
        quirks["plain_json_files"] += 1
    both_day, both_lines = planned[0]
    files[both_day] = [
        ("erasure-requests.json", both_lines[:1]),
        ("erasure-requests.json.gz", both_lines),
    ]
    quirks["plain_json_files"] += 1
    quirks["both_forms"] += 1
    for day, lines in planned[1:]:
        files[day] = [("erasure-requests.json.gz", lines)]
    last_day, last_lines = planned[-1]
    odd = []
    eligible = _erasable(customers, last_day, requested)
    if eligible:
        customer = rng.choice(eligible)
        local, domain = customer.record["email"].split("@")
        other = next(d for d in EMAIL_DOMAINS if d != domain)
        odd.append(_line(customer.id, f"{local}@{other}"))
        quirks["email_mismatch"] += 1
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    unknown = f"{customer_ids.new():06d}"
    odd.append(_line(unknown, email(rng, first, last)))
    quirks["unknown_customer"] += 1
    for line in odd:
        last_lines.insert(rng.randrange(len(last_lines) + 1), line)


def _erasable(customers: list[Customer], day: int, requested: set[str]) -> list[Customer]:
    """Customers delivered before `day` whose one record has a tidy e-mail to match on."""
    return [
        c
        for c in customers
        if c.arrival < day * 24
        and c.update_hour is None
        and c.has_clean_email
        and c.id not in requested
    ]


def _line(customer_id: str, email_address: str) -> str:
    return json.dumps({"customer-id": customer_id, "email": email_address})
