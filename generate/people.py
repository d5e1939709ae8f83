"""A customer's record: name, birth date, e-mail, phone number, address, and a later move."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from generate.addresses import address
from generate.randomness import Ids
from generate.vocabulary import (
    EMAIL_DOMAINS,
    FIRST_NAMES,
    IE_NUMBERS,
    LAST_NAMES,
    SEGMENT_WEIGHTS,
    SEGMENTS,
    TRUNK_FORMATS,
    UK_COUNTRY,
    UK_NUMBERS,
    US_FORMATS,
)


def new_customer(rng: random.Random, day: date, customer_ids: Ids, defects: bool) -> dict[str, Any]:
    """A customer first delivered on `day`, last changed up to 90 days before.

    Without `defects`, the phone number (when there is one) is in E.164; with, in one of the
    free-form ways people type them.
    """
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    home = address(rng)
    born = None
    if rng.random() < 0.35:
        born = (date(1930, 1, 1) + timedelta(days=rng.randrange(27_750))).isoformat()
    return {
        "id": f"{customer_ids.new():06d}",
        "first_name": first,
        "last_name": last,
        "date_of_birth": born,
        "email": email(rng, first, last),
        "phone_number": phone(rng, home["country"], defects) if rng.random() < 0.5 else None,
        "address": home["address"],
        "city": home["city"],
        "country": home["country"],
        "postcode": home["postcode"],
        "last_change": (day - timedelta(days=rng.randint(1, 90))).isoformat(),
        "segment": rng.choices(SEGMENTS, SEGMENT_WEIGHTS)[0],
    }


def moved(rng: random.Random, old: dict[str, Any], day: date, defects: bool) -> dict[str, Any]:
    """The customer's update: a new address, sometimes a new phone or segment, dated `day`."""
    home = address(rng)
    update = dict(old, last_change=day.isoformat())
    update.update(
        address=home["address"],
        city=home["city"],
        country=home["country"],
        postcode=home["postcode"],
    )
    if rng.random() < 0.5:
        update["phone_number"] = phone(rng, home["country"], defects)
    if rng.random() < 0.3:
        update["segment"] = rng.choices(SEGMENTS, SEGMENT_WEIGHTS)[0]
    return update


def email(rng: random.Random, first: str, last: str) -> str:
    """An address made of the name, at one of the reserved example domains."""
    first = first.lower().replace("'", "")
    last = last.lower().replace("'", "").replace("-", "")
    number = f"{rng.randint(0, 99):02d}"
    local = rng.choice(
        (first + last, first[0] + last, last + first, first + number, f"{first}.{last}")
    )
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def phone(rng: random.Random, country: str, defects: bool) -> str:
    """Mostly a number of the customer's country; a tenth American, a tenth of the other one."""
    roll = rng.random()
    home_uk = country == UK_COUNTRY
    if roll < 0.1:
        area, exchange, line = rng.randint(201, 989), rng.randint(200, 999), _digits(rng, 4)
        if not defects:
            return f"+1{area}{exchange}{line}"
        text = rng.choice(US_FORMATS).format(a=area, e=exchange, n=line)
        if rng.random() < 0.4:
            text += f"x{rng.randint(100, 99999)}"
        return text
    uk = home_uk if roll >= 0.2 else not home_uk
    code, numbers = ("44", UK_NUMBERS) if uk else ("353", IE_NUMBERS)
    area, prefix = rng.choice(numbers)
    length = 10 if uk else (8 if area == "1" else 9)
    rest = prefix + _digits(rng, length - len(area) - len(prefix))
    if not defects:
        return f"+{code}{area}{rest}"
    split = {7: 3, 8: 4}.get(len(rest), len(rest))
    spaced = f"{rest[:split]} {rest[split:]}".strip()
    return rng.choice(TRUNK_FORMATS).format(cc=code, a=area, r=rest, s=spaced)


def _digits(rng: random.Random, count: int) -> str:
    return f"{rng.randrange(10**count):0{count}d}"
