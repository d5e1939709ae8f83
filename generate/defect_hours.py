"""Which hours get the injected defects, drawn up front from the defects' own random stream."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from generate.customers import Customer
from generate.defects import BROKEN_TRANSACTIONS


@dataclass
class DefectHours:
    """Hours (index = day * 24 + hour) where the injected defects go; None or empty when off.

    `repeat_across`: its last transaction is re-sent at the start of the next hour.
    `repeat_within`: its first transactions are sent three times. `truncated`: its transactions
    file is cut short. `not_gzip`: its customers file is plain JSON. `broken_tx`: the kinds of
    broken transaction line each hour holds. The first transaction of an `orphan_never` hour is
    for a customer who never appears, of an `orphan_later` hour for the customer delivered the
    hour after, and of an `unknown_sku` hour buys a sku in no catalogue. `taken`: every hour
    above, so that no two defects share one.
    """

    repeat_across: int | None = None
    repeat_within: int | None = None
    truncated: int | None = None
    not_gzip: int | None = None
    broken_tx: dict[int, list[str]] = field(default_factory=dict)
    orphan_never: set[int] = field(default_factory=set)
    orphan_later: dict[int, Customer] = field(default_factory=dict)
    unknown_sku: set[int] = field(default_factory=set)
    taken: set[int] = field(default_factory=set)


def plan_defect_hours(rng: random.Random, hours: int, transactions_per_hour: int) -> DefectHours:
    """A distinct hour for each defect but the late orphans, which wait for the customers."""
    defect_hours = DefectHours()
    candidates = list(range(1, hours))
    rng.shuffle(candidates)
    defect_hours.repeat_across = next(h for h in candidates if h + 1 < hours)
    defect_hours.taken = {defect_hours.repeat_across, defect_hours.repeat_across + 1}

    def take() -> int:
        hour = next(h for h in candidates if h not in defect_hours.taken)
        defect_hours.taken.add(hour)
        return hour

    defect_hours.repeat_within = take()
    # A file of one transaction cannot lose some of its lines and keep others.
    if transactions_per_hour >= 2:
        defect_hours.truncated = take()
    defect_hours.not_gzip = take()
    broken_hours = [take() for _ in range(3)]
    for index, kind in enumerate(BROKEN_TRANSACTIONS):
        defect_hours.broken_tx.setdefault(broken_hours[index % 3], []).append(kind)
    defect_hours.orphan_never = {take(), take()}
    defect_hours.unknown_sku = {take()}
    return defect_hours


def plan_orphans_later(
    rng: random.Random, defect_hours: DefectHours, customers: list[Customer]
) -> None:
    """Two free hours, each just before some customer's first delivery, to buy for them early."""
    candidates = [c for c in customers if c.arrival >= 1]
    rng.shuffle(candidates)
    for customer in candidates:
        hour = customer.arrival - 1
        if hour not in defect_hours.taken:
            defect_hours.taken.add(hour)
            defect_hours.orphan_later[hour] = customer
            if len(defect_hours.orphan_later) == 2:
                return
