"""Postal addresses in the United Kingdom and Ireland, and a transaction's delivery address."""

from __future__ import annotations

import json
import random
from typing import Any

from generate.vocabulary import (
    EIRCODE_CHARS,
    HOUSE_NAMES,
    IE_COUNTRY,
    IE_PLACES,
    STREET_TYPES,
    STREETS,
    UK_COUNTRY,
    UK_INWARD_LETTERS,
    UK_PLACES,
)

_DELIVERY_KEYS = ("address", "postcode", "city", "country")


def address(rng: random.Random) -> dict[str, str]:
    """A street address (sometimes a flat or a house name on its own line), city and postcode.

    A quarter are Irish, with an Eircode; the rest British, with a postcode of the city's area.
    """
    if rng.random() < 0.25:
        country = IE_COUNTRY
        city, routing_keys = rng.choice(IE_PLACES)
        postcode = f"{rng.choice(routing_keys)} {''.join(rng.choices(EIRCODE_CHARS, k=4))}"
    else:
        country = UK_COUNTRY
        city, areas = rng.choice(UK_PLACES)
        area = rng.choice(areas)
        district = str(rng.randint(1, 29))
        if area in ("SW", "W", "EC", "WC") and rng.random() < 0.3:
            district = "1" + rng.choice("ABCEHPVWXY")
        inward = "".join(rng.choices(UK_INWARD_LETTERS, k=2))
        postcode = f"{area}{district} {rng.randint(0, 9)}{inward}"
    street = f"{rng.randint(1, 250)} {rng.choice(STREETS)} {rng.choice(STREET_TYPES)}"
    roll = rng.random()
    if roll < 0.15:
        street = f"Flat {rng.randint(1, 40)}\n{street}"
    elif roll < 0.25:
        street = f"Apartment {rng.randint(1, 120)}\n{street}"
    elif roll < 0.3:
        street = f"{rng.choice(HOUSE_NAMES)}\n{street.split(' ', 1)[1]}"
    return {"address": street, "postcode": postcode, "city": city, "country": country}


def delivery(record: dict[str, Any]) -> str:
    """The record's address as the JSON of a transaction's delivery_address."""
    return json.dumps({key: record[key] for key in _DELIVERY_KEYS})
