"""Freshness: when each asset's partition is due, as Dagster's partition freshness checks, and
the sensor that evaluates them.

The deadlines are etl/inspection/freshness.py's, as cron schedules in the landing zone's time zone:
an hourly partition by a quarter past the next hour, a daily one by 06:00 on its day. Once a
deadline passes, the check fails until the partition due by then is materialised, and says which
partition it expected. Dagster's newer FreshnessPolicy judges an asset by the time of its latest
materialisation of any partition, so the next hour loading (or a backfill of old ones) would
make a missing hour look fresh, and it names no partition: these checks expect the very
partition, which is what "late" means for a partitioned feed. Dagster marks them superseded, not
deprecated. A transactions or products partition is materialised only once its drop has landed
(pipelines/assets/loading.py); customers and erasure requests, sent only when there is something
to send, are materialised whatever their partition holds: their schedules keep them on time.
"""

from dagster import (
    DefaultSensorStatus,
    build_sensor_for_freshness_checks,
    build_time_partition_freshness_checks,
)

from etl.inspection.freshness import DAILY_DUE_HOUR, HOURLY_GRACE
from pipelines.assets import DATASET_ASSETS
from pipelines.partitions import TIMEZONE

HOURLY_DEADLINE = f"{HOURLY_GRACE.seconds // 60} * * * *"  # 15 * * * *
DAILY_DEADLINE = f"0 {DAILY_DUE_HOUR} * * *"  # 0 6 * * *

FRESHNESS_CHECKS = [
    *build_time_partition_freshness_checks(
        assets=[DATASET_ASSETS["customers"], DATASET_ASSETS["transactions"]],
        deadline_cron=HOURLY_DEADLINE,
        timezone=TIMEZONE,
    ),
    *build_time_partition_freshness_checks(
        assets=[DATASET_ASSETS["products"], DATASET_ASSETS["erasure-requests"]],
        deadline_cron=DAILY_DEADLINE,
        timezone=TIMEZONE,
    ),
]

# Runs a check when it could have become overdue, and a failed one again once its asset has
# materialised since. Off by default, like every schedule and sensor here.
freshness_checks_sensor = build_sensor_for_freshness_checks(
    freshness_checks=FRESHNESS_CHECKS,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
)
