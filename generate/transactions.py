"""The transactions dataset: each hour's lines, drawn one by one while the file is written.

A transaction buys from the catalogue in force, weighted by popularity, for a customer already
delivered, sent to their own address or to another one. With defects, the hours DefectHours
names get the feed's quirks (repeats within and across hours, orphan customers, an unknown sku)
and the broken lines.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, time
from itertools import accumulate

from generate.addresses import delivery
from generate.customers import Customer
from generate.defect_hours import DefectHours
from generate.defects import broken_transaction
from generate.money import format_money
from generate.period import Period
from generate.randomness import Ids
from generate.report import GenerationReport

_ITEM_COUNTS = tuple(range(1, 11))
_ITEM_COUNT_CUM = (39, 51, 63, 75, 87, 89.5, 92, 94.5, 97, 100)
_QUANTITIES = (1, 2, 3, 4, 5)
_QUANTITY_CUM = (80, 85, 90, 95, 100)
_OWN_ADDRESS_CHANCE = 0.5
_HOUR_REPEAT_LINES = 5
_HOUR_REPEAT_COPIES = 3
_MICROSECONDS_PER_HOUR = 3_600_000_000

Good = tuple[int, int]  # (sku, price in pence)


class Transactions:
    """Transaction lines, hour by hour, for the customers and the catalogue known so far.

    Only one line is held at a time (and the few an hour repeats), so memory stays flat however
    many transactions an hour has. The writer tells it who arrives, who moves and what the
    day's catalogue changes, in the order the files are written.
    """

    def __init__(
        self,
        rng: random.Random,
        period: Period,
        per_hour: int,
        defect_hours: DefectHours,
        addresses: list[str],
        customer_ids: Ids,
        skus: Ids,
        report: GenerationReport,
    ) -> None:
        self.rng = rng
        self.period = period
        self.per_hour = per_hour
        self.defect_hours = defect_hours
        self.addresses = addresses
        self.customer_ids = customer_ids
        self.skus = skus
        self.report = report
        # (customer id, delivery address JSON) of every customer delivered so far
        self.buyers: list[tuple[str, str]] = []
        self.buyer_index: dict[str, int] = {}
        self.catalogue: dict[int, tuple[int, float]] = {}
        self.goods: list[Good] = []
        self.weights: list[float] = []
        # Purchased lines recur, so their JSON is made once: (good, quantity) -> (JSON, pence).
        self.items: dict[tuple[Good, int], tuple[str, int]] = {}
        self.carried_line: str | None = None

    def change_catalogue(self, changes: list[tuple[int, int, float]]) -> None:
        """A products file arrives: its (sku, price in pence, weight) replace the old ones."""
        catalogue = self.catalogue
        for sku, cents, weight in changes:
            catalogue[sku] = (cents, weight)
        self.goods = [(sku, cents) for sku, (cents, _) in catalogue.items()]
        self.weights = list(accumulate(weight for _, weight in catalogue.values()))

    def arrive(self, customer: Customer) -> None:
        """A customer is delivered and may buy from now on."""
        self.buyer_index[customer.id] = len(self.buyers)
        self.buyers.append((customer.id, delivery(customer.record)))

    def move(self, customer: Customer) -> None:
        """A customer's update is delivered: from now on they buy for their new address."""
        if customer.update is not None:
            self.buyers[self.buyer_index[customer.id]] = (customer.id, delivery(customer.update))

    def lines(self, hour: int) -> Iterator[str]:
        """The lines of the hour's transactions file, with the hour's defects if it has any."""
        rng, quirks = self.rng, self.report.quirks["transactions"]
        defect_hours = self.defect_hours
        buyers, goods, weights = self.buyers, self.goods, self.weights
        count = self.per_hour
        prefix = datetime.combine(self.period.day(hour), time(hour % 24)).strftime("%Y-%m-%dT%H:")
        inserts: dict[int, list[str]] = {}
        for kind in defect_hours.broken_tx.get(hour, ()):
            line = self._line(rng, prefix, *rng.choice(buyers), goods, weights)
            inserts.setdefault(rng.randrange(count + 1), []).append(
                broken_transaction(kind, line, self.report)
            )
        if hour - 1 == defect_hours.repeat_across and self.carried_line is not None:
            # A late re-delivery: last hour's transaction again, identical to the byte.
            yield self.carried_line
            quirks["duplicate_across_hours"] += 1
        repeated: list[str] = []
        line = ""
        for index in range(count):
            yield from inserts.get(index, ())
            customer_id, address = rng.choice(buyers)
            if index == 0 and hour in defect_hours.orphan_later:
                customer = defect_hours.orphan_later[hour]
                customer_id, address = customer.id, delivery(customer.record)
                quirks["orphan_customer_later"] += 1
            elif index == 0 and hour in defect_hours.orphan_never:
                customer_id = f"{self.customer_ids.new():06d}"
                quirks["orphan_customer_never"] += 1
            if rng.random() >= _OWN_ADDRESS_CHANCE:
                address = rng.choice(self.addresses)
            line = self._line(rng, prefix, customer_id, address, goods, weights)
            if index == 0 and hour in defect_hours.unknown_sku:
                record = json.loads(line)
                record["purchases"]["products"][0]["sku"] = self.skus.new()
                line = json.dumps(record)
                quirks["unknown_sku"] += 1
            if hour == defect_hours.repeat_within and index < _HOUR_REPEAT_LINES:
                repeated.append(line)
            yield line
        yield from inserts.get(count, ())
        if repeated:
            # A batch re-sent within the hour, as the source does: the same lines again.
            for _ in range(_HOUR_REPEAT_COPIES - 1):
                yield from repeated
                quirks["duplicate_in_hour"] += len(repeated)
        if hour == defect_hours.repeat_across:
            self.carried_line = line

    def _line(
        self,
        rng: random.Random,
        prefix: str,
        customer_id: str,
        address: str,
        goods: list[Good],
        weights: list[float],
    ) -> str:
        """A valid transaction, spelled out exactly as json.dumps writes it, but much faster.

        Addresses and purchased lines come pre-serialised; the tests hold every line to
        `json.dumps(json.loads(line)) == line`.
        """
        size = rng.choices(_ITEM_COUNTS, cum_weights=_ITEM_COUNT_CUM)[0]
        picked = rng.choices(goods, cum_weights=weights, k=size)
        quantities = rng.choices(_QUANTITIES, cum_weights=_QUANTITY_CUM, k=size)
        items, parts, total = self.items, [], 0
        for good, quantity in zip(picked, quantities, strict=True):
            item = items.get((good, quantity))
            if item is None:
                item = items[good, quantity] = _item(good, quantity)
            parts.append(item[0])
            total += item[1]
        seconds, micros = divmod(rng.randrange(_MICROSECONDS_PER_HOUR), 1_000_000)
        minutes, seconds = divmod(seconds, 60)
        transaction_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        return (
            f'{{"transaction_id": "{transaction_id}", '
            f'"transaction_time": "{prefix}{minutes:02d}:{seconds:02d}.{micros:06d}", '
            f'"customer_id": "{customer_id}", "delivery_address": {address}, '
            f'"purchases": {{"products": [{", ".join(parts)}], '
            f'"total_cost": "{format_money(total)}"}}}}'
        )


def _item(good: Good, quantity: int) -> tuple[str, int]:
    """A purchased line's JSON, and its total in pence."""
    sku, cents = good
    total = cents * quantity
    text = json.dumps(
        {
            "sku": sku,
            "quanitity": quantity,
            "price": format_money(cents),
            "total": format_money(total),
        }
    )
    return text, total
