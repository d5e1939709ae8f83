"""Schedules, off until switched on in the UI; each loads its job's newest partition.

Times are in pipelines.partitions.TIMEZONE. Hourly loads run at minute 0 for the hour just over;
the products run at 00:00 and the erasure run at 01:00 load the day that starts. Erasure at
01:00 thus comes before most of the day's customer and transaction loads; whatever the order,
its tombstones keep later and replayed loads from bringing an erased customer back.
"""

from dagster import DefaultScheduleStatus, build_schedule_from_partitioned_job

from pipelines.jobs import customers_job, erasure_requests_job, products_job, transactions_job

# Off by default: a new deployment loads nothing until someone switches a schedule on.
DEFAULT_STATUS = DefaultScheduleStatus.STOPPED

customers_hourly = build_schedule_from_partitioned_job(
    customers_job, name="customers_hourly", minute_of_hour=0, default_status=DEFAULT_STATUS
)
transactions_hourly = build_schedule_from_partitioned_job(
    transactions_job, name="transactions_hourly", minute_of_hour=0, default_status=DEFAULT_STATUS
)
products_daily = build_schedule_from_partitioned_job(
    products_job,
    name="products_daily",
    hour_of_day=0,
    minute_of_hour=0,
    default_status=DEFAULT_STATUS,
)
erasure_requests_daily = build_schedule_from_partitioned_job(
    erasure_requests_job,
    name="erasure_requests_daily",
    hour_of_day=1,
    minute_of_hour=0,
    default_status=DEFAULT_STATUS,
)

SCHEDULES = [customers_hourly, transactions_hourly, products_daily, erasure_requests_daily]
