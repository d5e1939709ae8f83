"""Seeded random streams, one per concern, the unique keys drawn from them, and quirk samples."""

from __future__ import annotations

import random
from typing import Any


def stream(seed: int, concern: str) -> random.Random:
    """The random stream of one concern (a dataset, the defects, the keys...) under `seed`."""
    # One stream per concern, so changing one volume does not reshuffle the other datasets.
    return random.Random(f"{seed}:{concern}")


class Ids:
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


def sample(rng: random.Random, pool: list[Any], rate: float) -> list[Any]:
    """At least one, about `rate` of the pool, so small samples still show every quirk."""
    return rng.sample(pool, min(len(pool), max(1, round(len(pool) * rate))))
