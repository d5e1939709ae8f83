"""Dagster's floor: an asset with the warehouse's hourly partitions that does nothing, backfilled
in a single run. What a backfill of it costs is Dagster's own time (the daemons' ticks, a run's
start), against which bench/dagster_backfill.py sets the project's backfill."""

from dagster import BackfillPolicy, Definitions, asset, in_process_executor

from pipelines.partitions import HOURLY


@asset(partitions_def=HOURLY, backfill_policy=BackfillPolicy.single_run())
def nothing_hourly() -> None:
    """Loads nothing."""


defs = Definitions(assets=[nothing_hourly], executor=in_process_executor)
