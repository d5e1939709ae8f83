"""How every asset materialises a partition: load it through etl/, report its counts."""

from dagster import (
    AssetExecutionContext,
    Backoff,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
)

from etl.landing import Window
from etl.partitions import load_partitions, totals
from pipelines.partitions import landing_partition
from pipelines.resources import LandingZone, PseudonymKey, WarehouseDatabase, warehouse_settings

GROUP = "warehouse"
OWNERS = ["team:data-engineering"]
KINDS = {"python", "postgres"}
# A file that fails is logged as failed and loads again on the next try; a few spaced retries
# ride out a database restart without anyone relaunching the partition.
RETRY = RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL)

_FILE_STATUSES = ("loaded", "unchanged", "rejected", "failed")
_RECORD_COUNTS = ("read", "loaded", "duplicate", "quarantined", "erased", "scrubbed")


def materialize_partition(
    context: AssetExecutionContext,
    dataset: str,
    database: WarehouseDatabase,
    landing_zone: LandingZone,
    pseudonym_key: PseudonymKey,
) -> MaterializeResult:
    """Load the run's partition of `dataset` and return its counts as metadata.

    Raises:
        Failure: a file of the partition failed to load (it is logged, and the rest loaded).
    """
    settings = warehouse_settings(database, landing_zone, pseudonym_key)
    partition_date, partition_hour = landing_partition(context.partition_key)
    window = (
        Window.of_days(partition_date, partition_date)
        if partition_hour is None
        else Window((partition_date, partition_hour), (partition_date, partition_hour))
    )
    summary = load_partitions(settings, dataset, window)
    context.log.info(summary.render())
    counts = totals(summary, dataset)
    metadata = {
        "files": MetadataValue.int(counts.files.total()),
        **{f"files_{status}": MetadataValue.int(counts.files[status]) for status in _FILE_STATUSES},
        **{f"records_{name}": MetadataValue.int(counts.records[name]) for name in _RECORD_COUNTS},
        "orphans": MetadataValue.int(counts.records["orphans"]),
    }
    if summary.failures:
        raise Failure(
            description=f"{len(summary.failures)} file(s) failed: " + "; ".join(summary.failures),
            metadata=metadata,
        )
    return MaterializeResult(metadata=metadata)
