"""Partitions that follow the landing zone's layout: date=YYYY-MM-DD/hour=HH/<dataset>.json[.gz].

Customers and transactions arrive every hour, products and erasure requests once a day (hour=00).
The landing zone's dates and hours are read in TIMEZONE, which the schedules also run in.
"""

import os
from datetime import date, datetime, time

from dagster import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    TimeWindowPartitionsDefinition,
)

from etl.landing import LandingFile

# Fixed at load time: Dagster needs the partitions before any run. Both come from the
# environment so that a deployment with a later landing zone or another zone needs no code.
TIMEZONE = os.environ.get("WAREHOUSE_TIMEZONE") or "Europe/Zagreb"
START_DATE = date.fromisoformat(os.environ.get("WAREHOUSE_PARTITIONS_START") or "2020-01-01")

# An hour's drop is complete once the hour is over: its partition exists from then on.
HOURLY = HourlyPartitionsDefinition(start_date=f"{START_DATE.isoformat()}-00:00", timezone=TIMEZONE)
# A day's drop lands at hour=00 of that day: its partition exists all day (end_offset=1), so the
# sensor loads it on arrival and the 00:00/01:00 schedules load the day that starts.
DAILY = DailyPartitionsDefinition(
    start_date=START_DATE.isoformat(), timezone=TIMEZONE, end_offset=1
)


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
