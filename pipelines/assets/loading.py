"""How every asset materialises a partition: load it through etl/, report its counts."""

from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    Backoff,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
)

from etl.freshness import FEEDS
from etl.partitions import load_partitions, totals
from etl.runner import DatasetSummary
from pipelines.assets import tables
from pipelines.partitions import landing_partition, run_window
from pipelines.resources import (
    LandingZone,
    PseudonymKey,
    SchemaContract,
    WarehouseDatabase,
    warehouse_settings,
)

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
    schema_contract: SchemaContract,
) -> Iterator[MaterializeResult]:
    """Load the run's partition of `dataset`, or the range of partitions a backfill gave it,
    and report the counts of each partition as its materialisation's metadata, with the
    table's columns and the partition's rows in it (pipelines/assets/tables.py).

    A run of one partition of a dataset that sends a drop every partition (transactions,
    products: etl/freshness.py) that finds none in the landing zone materialises nothing (its
    asset's output is optional, see `output_required`): the catalog shows the partition
    missing, and its freshness check late, until the drop lands and loads. A range (a backfill)
    is materialised whole, all Dagster can do with one step: a partition without a file shows
    zero files.

    Raises:
        Failure: a file failed to load (it is logged, and the rest loaded); the metadata gives
            the counts of the whole range.
    """
    settings = warehouse_settings(database, landing_zone, pseudonym_key, schema_contract)
    summary = load_partitions(settings, dataset, run_window(context))
    context.log.info(summary.render())
    if summary.failures:
        raise Failure(
            description=f"{len(summary.failures)} file(s) failed: " + "; ".join(summary.failures),
            metadata=_metadata(totals(summary, dataset)),
        )
    keys = context.partition_keys
    awaited = len(keys) == 1 and FEEDS[dataset].every_partition
    if awaited and not totals(summary, dataset, *landing_partition(keys[0])).files:
        context.log.info(f"{dataset} {keys[0]}: no drop in the landing zone yet: not materialised")
        return
    with database.connection() as conn:
        columns = tables.column_schema(conn, dataset)
        rows = tables.row_counts(conn, dataset, keys)
    # Each partition's own counts, even when a backfill loaded many in one step: the UI shows
    # per partition what its files brought (a partition with no file shows zero files).
    for key in keys:
        day, hour = landing_partition(key)
        context.add_asset_metadata(
            {**_metadata(totals(summary, dataset, day, hour)), **rows[key]}, partition_key=key
        )
    yield MaterializeResult(metadata=columns)


def output_required(dataset: str) -> bool:
    """Whether every materialisation of the dataset's asset yields its output: not for datasets
    whose partitions each await a drop (see materialize_partition)."""
    return not FEEDS[dataset].every_partition


def _metadata(counts: DatasetSummary) -> dict[str, MetadataValue]:
    return {
        "files": MetadataValue.int(counts.files.total()),
        **{f"files_{status}": MetadataValue.int(counts.files[status]) for status in _FILE_STATUSES},
        **{f"records_{name}": MetadataValue.int(counts.records[name]) for name in _RECORD_COUNTS},
        "orphans": MetadataValue.int(counts.records["orphans"]),
    }
