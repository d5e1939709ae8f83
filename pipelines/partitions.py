"""Partitions that follow the landing zone's layout: date=YYYY-MM-DD/hour=HH/<dataset>.json[.gz].

Customers and transactions arrive every hour, products and erasure requests once a day (hour=00).
The landing zone's dates and hours are read in TIMEZONE, which the schedules also run in.
"""

import os
from datetime import date, datetime, time

from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    BackfillPolicy,
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    TimeWindowPartitionsDefinition,
)

from etl.settings import DEFAULT_TIMEZONE, TIMEZONE_VARIABLE
from etl.source.landing import LandingFile, Window

# Fixed at load time: Dagster needs the partitions before any run. Both come from the
# environment so that a deployment with a later landing zone or another zone needs no code.
TIMEZONE = os.environ.get(TIMEZONE_VARIABLE) or DEFAULT_TIMEZONE
START_DATE = date.fromisoformat(os.environ.get("WAREHOUSE_PARTITIONS_START") or "2020-01-01")

# An hour's drop is complete once the hour is over: its partition exists from then on.
HOURLY = HourlyPartitionsDefinition(start_date=f"{START_DATE.isoformat()}-00:00", timezone=TIMEZONE)
# A day's drop lands at hour=00 of that day: its partition exists all day (end_offset=1), so the
# sensor loads it on arrival and the 00:00/01:00 schedules load the day that starts.
DAILY = DailyPartitionsDefinition(
    start_date=START_DATE.isoformat(), timezone=TIMEZONE, end_offset=1
)

# A backfill of many partitions is a few runs, each loading its range of partitions in one step
# through the batched loader (etl/loading/file_load.py), instead of a run per partition: a run costs
# seconds to start, an hour of the feed a hundredth of a second to load. At most this many hours
# per run (a month by default; with the Celery executor, about the backfill's hours divided by
# the workers spreads it over all of them); daily partitions take the days these hours span.
HOURS_PER_RUN = int(os.environ.get("WAREHOUSE_BACKFILL_HOURS_PER_RUN") or 31 * 24)
HOURLY_BACKFILL = BackfillPolicy.multi_run(max_partitions_per_run=HOURS_PER_RUN)
DAILY_BACKFILL = BackfillPolicy.multi_run(max_partitions_per_run=max(1, HOURS_PER_RUN // 24))


def landing_partition(partition_key: str) -> tuple[date, int | None]:
    """The landing zone date and hour of a partition key; the hour is None for a daily key.

    `2020-01-01-05:00` -> (2020-01-01, 5); `2020-01-01` -> (2020-01-01, None). The second
    02:00 of a day that leaves summer time (`2020-10-25-02:00+0100`) is the same folder.
    """
    day = date.fromisoformat(partition_key[:10])
    if len(partition_key) == 10:
        return day, None
    return day, int(partition_key[11:13])


def partition_key(landing_file: LandingFile, partitions_def: TimeWindowPartitionsDefinition) -> str:
    """The key of the partition of `partitions_def` a landing file belongs to (a daily key leaves
    the hour out)."""
    folder = datetime.combine(landing_file.partition_date, time(landing_file.partition_hour))
    return folder.strftime(partitions_def.fmt)


def run_window(context: AssetExecutionContext | AssetCheckExecutionContext) -> Window | None:
    """The landing folders of the run's partitions: its one partition, or the range a backfill
    gave it; None when it has none (a check run alone)."""
    if context.has_partition_key:
        first = last = context.partition_key
    elif context.has_partition_key_range:
        first, last = context.partition_key_range.start, context.partition_key_range.end
    else:
        return None
    first_day, first_hour = landing_partition(first)
    last_day, last_hour = landing_partition(last)
    return Window(
        (first_day, 0 if first_hour is None else first_hour),
        (last_day, 23 if last_hour is None else last_hour),
    )


def partition_scope(context: AssetExecutionContext | AssetCheckExecutionContext) -> str:
    """How a check's metadata names what it measured: a partition, a range of them, or all."""
    if context.has_partition_key:
        return context.partition_key
    if context.has_partition_key_range:
        return f"{context.partition_key_range.start}...{context.partition_key_range.end}"
    return "all"
