"""When each dataset's partition is due, and which partitions are overdue: read from the landing
zone and the load log.

The source drops an hour's customers and transactions once the hour is over, and the day's
catalogue and erasure requests at hour 00 of their day. An hourly partition is due a quarter of
an hour after its hour ends (05:00 by 06:15); a daily one at 06:00 on its day, before the
working day starts. Transactions come every hour and the catalogue every day, so each of their
partitions is overdue, once due, until a drop of it is loaded. Customers and erasure requests
come only when there is something to send (the month of sample drops has customers in a
quarter of its hours, erasure requests on 9 of 31 days): an hour without a drop is no sign of
lateness, so only a drop that landed and is not loaded makes one of their partitions overdue.
The orchestrator declares the same deadlines (pipelines/freshness.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from etl.source import landing

# An hourly partition is due this long after its hour ends, a daily one at this hour of its day.
HOURLY_GRACE = timedelta(minutes=15)
DAILY_DUE_HOUR = 6

# What an overdue partition is missing.
NO_DROP = "no drop"  # nothing in the landing zone
NOT_LOADED = "not loaded"  # its drop landed, and is not in the warehouse

# A landing partition: the date and, for an hourly dataset, the hour (None for a daily one).
Partition = tuple[date, int | None]


@dataclass(frozen=True)
class Feed:
    """How a dataset arrives: every hour or once a day, and whether every partition brings a
    drop (else only those with something to send)."""

    hourly: bool
    every_partition: bool


FEEDS = {
    "products": Feed(hourly=False, every_partition=True),
    "customers": Feed(hourly=True, every_partition=False),
    "transactions": Feed(hourly=True, every_partition=True),
    "erasure-requests": Feed(hourly=False, every_partition=False),
}


def partition_key(partition: Partition) -> str:
    """The partition's key, as the orchestrator names it: `2020-01-01-05:00`, `2020-01-01`."""
    day, hour = partition
    return day.isoformat() if hour is None else f"{day.isoformat()}-{hour:02d}:00"


def due(partition: Partition, tz: ZoneInfo) -> datetime:
    """When the partition is due: a quarter past the hour after an hourly one, 06:00 on a daily
    one's day (local times in `tz`)."""
    day, hour = partition
    if hour is None:
        return datetime.combine(day, time(DAILY_DUE_HOUR), tz)
    # in UTC: the hour after 01:00 on the night the clocks go back is the second 01:00
    return datetime.combine(day, time(hour), tz).astimezone(UTC) + timedelta(hours=1) + HOURLY_GRACE


@dataclass(frozen=True)
class Overdue:
    """Consecutive overdue partitions of a dataset that miss the same thing (`reason`)."""

    first: str
    last: str
    partitions: int
    reason: str

    def as_json(self) -> dict[str, object]:
        return {
            "first": self.first,
            "last": self.last,
            "partitions": self.partitions,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        if self.partitions == 1:
            return f"{self.first} ({self.reason})"
        return f"{self.first} to {self.last} ({self.partitions} partitions, {self.reason})"


@dataclass(frozen=True)
class Freshness:
    """A dataset's newest partition with a loaded drop (None before its first load), and its
    partitions overdue, oldest first."""

    newest: str | None
    overdue: tuple[Overdue, ...]


def freshness(
    conn: psycopg.Connection, raw_data_dir: Path, timezone: str, now: datetime
) -> dict[str, Freshness]:
    """Each dataset's freshness at `now`, from the load log (what is loaded) and the landing
    zone `raw_data_dir` (what landed); without a landing zone every overdue partition is
    `not loaded`, as nothing says whether its drop came.

    The partitions a dataset is expected to have start at its first drop, loaded or landed:
    before it, the feed had not begun.
    """
    tz = ZoneInfo(timezone)
    loaded: dict[str, set[Partition]] = {name: set() for name in FEEDS}
    rows = conn.execute(
        "SELECT DISTINCT dataset, partition_date, partition_hour FROM ops.loads_in_effect()"
    )
    for dataset, day, hour in rows:
        if dataset in FEEDS:
            loaded[dataset].add((day, hour if FEEDS[dataset].hourly else None))
    landed: dict[str, set[Partition]] | None = None
    if raw_data_dir.is_dir():
        landed = {name: set() for name in FEEDS}
        for drop in landing.scan(raw_data_dir).drops:
            hour = drop.partition_hour if FEEDS[drop.dataset].hourly else None
            landed[drop.dataset].add((drop.partition_date, hour))
    return {
        name: _freshness(feed, loaded[name], None if landed is None else landed[name], tz, now)
        for name, feed in FEEDS.items()
    }


def _freshness(
    feed: Feed,
    loaded: set[Partition],
    landed: set[Partition] | None,
    tz: ZoneInfo,
    now: datetime,
) -> Freshness:
    newest = partition_key(max(loaded)) if loaded else None
    pending = (landed or set()) - loaded
    expected = (loaded | pending) if feed.every_partition else pending
    if not expected:
        return Freshness(newest, ())
    overdue: list[Overdue] = []
    previous = None  # the partition before, overdue or not: a range holds consecutive ones
    for partition in _due_partitions(feed, min(expected), tz, now):
        key = partition_key(partition)
        if partition not in loaded and (feed.every_partition or partition in pending):
            reason = NOT_LOADED if landed is None or partition in landed else NO_DROP
            last = overdue[-1] if overdue else None
            if last and last.last == previous and last.reason == reason:
                overdue[-1] = Overdue(last.first, key, last.partitions + 1, reason)
            else:
                overdue.append(Overdue(key, key, 1, reason))
        previous = key
    return Freshness(newest, tuple(overdue))


def _due_partitions(
    feed: Feed, first: Partition, tz: ZoneInfo, now: datetime
) -> Iterator[Partition]:
    """Every partition from `first` on that is due at `now`, in order, each once: hours are
    stepped in UTC, so that a day has the hours its clock shows (23 when it springs forward,
    25 with the repeated hour, named once, when it falls back)."""
    day, hour = first
    if not feed.hourly:
        while due((day, None), tz) <= now:
            yield day, None
            day += timedelta(days=1)
        return
    moment = datetime.combine(day, time(hour or 0), tz).astimezone(UTC)
    previous = None
    while moment + timedelta(hours=1) + HOURLY_GRACE <= now:
        local = moment.astimezone(tz)
        partition = (local.date(), local.hour)
        if partition != previous:
            yield partition
        previous = partition
        moment += timedelta(hours=1)
