"""How every dataset's asset is made: a step that loads the run's partitions through etl/,
reports each partition's counts and its table (pipelines/assets/tables.py), and evaluates the
asset's checks."""

from collections.abc import Iterator, Sequence

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    Backoff,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    TimeWindowPartitionsDefinition,
    multi_asset,
)

from etl.database import connect, database_url
from etl.encryption.key_fingerprints import KeyMismatch
from etl.inspection.freshness import FEEDS
from etl.loading.partition_load import load_partitions, totals
from etl.loading.run_summary import DatasetSummary
from etl.settings import Settings
from pipelines.assets import tables
from pipelines.assets.dataset_checks import Check, CheckScope
from pipelines.partitions import landing_partition, partition_scope, run_window
from pipelines.resources import (
    LandingZone,
    PseudonymKey,
    QualityThresholds,
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


def dataset_asset(
    name: str,
    dataset: str,
    partitions_def: TimeWindowPartitionsDefinition,
    backfill_policy: BackfillPolicy,
    checks: Sequence[Check],
    description: str,
    deps: Sequence[str] = (),
) -> AssetsDefinition:
    """The asset `name` of the landing zone's `dataset`, with its checks.

    Its step materialises the run's partitions (or the range a backfill gives it) and then
    evaluates the checks selected with it, on what it just loaded; the checks can also be run
    alone, without a partition, on everything (the asset can be subset). A dataset that sends
    a drop every partition may skip a partition whose drop has not landed (see
    materialize_partitions).
    """
    by_name = {check.name: check for check in checks}

    @multi_asset(
        name=name,
        specs=[
            AssetSpec(
                name,
                partitions_def=partitions_def,
                # Lineage only: a transaction loads before its customer or products do.
                deps=deps,
                group_name=GROUP,
                owners=OWNERS,
                kinds=KINDS,
                tags={"dataset": dataset},
                description=description,
                metadata=tables.definition_metadata(dataset),
                skippable=FEEDS[dataset].every_partition,
            )
        ],
        check_specs=[
            AssetCheckSpec(check.name, asset=name, description=check.description)
            for check in checks
        ],
        can_subset=True,
        backfill_policy=backfill_policy,
        retry_policy=RETRY,
    )
    def materialize(
        context: AssetExecutionContext,
        database: WarehouseDatabase,
        landing_zone: LandingZone,
        pseudonym_key: PseudonymKey,
        schema_contract: SchemaContract,
        quality_thresholds: QualityThresholds,
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        settings = warehouse_settings(database, landing_zone, pseudonym_key, schema_contract)
        if context.selected_asset_keys:
            materialized = materialize_partitions(context, dataset, settings)
            if materialized is None:
                return  # nothing landed: nothing to materialise, nothing to check
            yield materialized
        selected = sorted(key.name for key in context.selected_asset_check_keys)
        if not selected:
            return
        with database.connection() as conn:
            scope = CheckScope(
                conn, dataset, run_window(context), partition_scope(context),
                quality_thresholds, settings,
            )  # fmt: skip
            for check_name in selected:
                evaluation = by_name[check_name].evaluate(scope)
                yield AssetCheckResult(
                    asset_key=name,
                    check_name=check_name,
                    passed=evaluation.passed,
                    severity=evaluation.severity,
                    metadata=evaluation.metadata,
                )

    return materialize


def materialize_partitions(
    context: AssetExecutionContext, dataset: str, settings: Settings
) -> MaterializeResult | None:
    """Load the run's partition of `dataset`, or the range of partitions a backfill gave it,
    and give each partition's materialisation that partition's counts as metadata, with the
    table's columns and the partition's rows in it.

    A run of one partition of a dataset that sends a drop every partition (transactions,
    products: etl/inspection/freshness.py) that finds none in the landing zone materialises nothing
    (None): the catalog shows the partition missing, and its freshness check late, until the
    drop lands and loads. A range (a backfill) is materialised whole, all Dagster can do with
    one step: a partition without a file shows zero files.

    Raises:
        Failure: a file failed to load (it is logged, and the rest loaded); the metadata gives
            the counts of the whole range. Or the pseudonym key is not the one the warehouse was
            built with: not retried, nothing loaded.
    """
    try:
        summary = load_partitions(settings, dataset, run_window(context))
    except KeyMismatch as error:
        # A retry would meet the same key: fail at once, saying which key the warehouse expects.
        raise Failure(description=str(error), allow_retries=False) from None
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
        return None
    with connect(database_url(settings), autocommit=True) as conn:
        columns = tables.column_schema(conn, dataset)
        rows = tables.row_counts(conn, dataset, keys)
    # Each partition's own counts, even when a backfill loaded many in one step: the UI shows
    # per partition what its files brought (a partition with no file shows zero files).
    for key in keys:
        day, hour = landing_partition(key)
        context.add_asset_metadata(
            {**_metadata(totals(summary, dataset, day, hour)), **rows[key]}, partition_key=key
        )
    return MaterializeResult(metadata=columns)


def _metadata(counts: DatasetSummary) -> dict[str, MetadataValue]:
    return {
        "files": MetadataValue.int(counts.files.total()),
        **{f"files_{status}": MetadataValue.int(counts.files[status]) for status in _FILE_STATUSES},
        **{f"records_{name}": MetadataValue.int(counts.records[name]) for name in _RECORD_COUNTS},
        "orphans": MetadataValue.int(counts.records["orphans"]),
    }
