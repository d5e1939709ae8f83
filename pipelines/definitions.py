"""The code location: every asset, check, job, schedule, sensor and resource, and the executor,
wired together."""

from dagster import Definitions

from pipelines.assets import DATASET_ASSETS
from pipelines.executor import warehouse_executor
from pipelines.freshness import FRESHNESS_CHECKS, freshness_checks_sensor
from pipelines.jobs import DATASET_JOBS
from pipelines.resources import RESOURCES
from pipelines.schedules import SCHEDULES
from pipelines.sensors import landing_zone_sensor

defs = Definitions(
    assets=list(DATASET_ASSETS.values()),
    asset_checks=FRESHNESS_CHECKS,
    jobs=list(DATASET_JOBS.values()),
    schedules=SCHEDULES,
    sensors=[landing_zone_sensor, freshness_checks_sensor],
    resources=RESOURCES,
    executor=warehouse_executor(),
)
