"""The code location: every asset, check, job, schedule, sensor and resource, and the executor,
wired together."""

from dagster import Definitions

from pipelines.assets import DATASET_ASSETS
from pipelines.executor import warehouse_executor
from pipelines.jobs import DATASET_JOBS
from pipelines.resources import RESOURCES
from pipelines.schedules import SCHEDULES
from pipelines.sensors import landing_zone_sensor

defs = Definitions(
    assets=list(DATASET_ASSETS.values()),
    jobs=list(DATASET_JOBS.values()),
    schedules=SCHEDULES,
    sensors=[landing_zone_sensor],
    resources=RESOURCES,
    executor=warehouse_executor(),
)
