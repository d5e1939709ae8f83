"""Transactions with their items, one hourly partition per
date=YYYY-MM-DD/hour=HH/transactions.json.gz, and the checks of their totals and orphans."""

from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from etl import quality
from pipelines.assets import tables
from pipelines.assets.customers import customers
from pipelines.assets.dataset_checks import (
    accounted_for_check,
    no_direct_identifiers_check,
    quarantine_rate_check,
    schema_drift_check,
)
from pipelines.assets.loading import (
    GROUP,
    KINDS,
    OWNERS,
    RETRY,
    materialize_partition,
    output_required,
)
from pipelines.assets.products import products
from pipelines.partitions import HOURLY, HOURLY_BACKFILL, partition_scope, run_window
from pipelines.resources import (
    LandingZone,
    PseudonymKey,
    QualityThresholds,
    SchemaContract,
    WarehouseDatabase,
)

DATASET = "transactions"
PARTITIONS = HOURLY
BACKFILL = HOURLY_BACKFILL


@asset(
    partitions_def=PARTITIONS,
    backfill_policy=BACKFILL,
    # Lineage only: a transaction loads before its customer or products do, as an orphan.
    deps=[customers, products],
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    retry_policy=RETRY,
    output_required=output_required(DATASET),
    metadata=tables.definition_metadata(DATASET),
    tags={"dataset": DATASET},
)
def transactions(
    context: AssetExecutionContext,
    database: WarehouseDatabase,
    landing_zone: LandingZone,
    pseudonym_key: PseudonymKey,
    schema_contract: SchemaContract,
) -> Iterator[MaterializeResult]:
    """The hour's transactions: warehouse.transactions, one warehouse.transaction_items row per
    purchased line, delivery addresses apart in pii.delivery_addresses."""
    yield from materialize_partition(
        context, DATASET, database, landing_zone, pseudonym_key, schema_contract
    )


@asset_check(asset=transactions)
def transaction_totals_consistent(
    context: AssetCheckExecutionContext, database: WarehouseDatabase
) -> AssetCheckResult:
    """Every stored transaction's lines add up (line total = price x quantity, total_cost = sum
    of the line totals): those of the run's partitions, or all when the check runs alone (a
    partition's check reads its partition's rows, whatever the history)."""
    with database.connection() as conn:
        measured = quality.transaction_totals(conn, window=run_window(context))
    return AssetCheckResult(
        passed=measured.inconsistent == 0,
        metadata={
            "inconsistent": measured.inconsistent,
            "threshold": 0,
            "transactions": measured.transactions,
            "examples": MetadataValue.json(list(measured.examples)),
            "partition": partition_scope(context),
        },
    )


@asset_check(asset=transactions)
def orphans(
    context: AssetCheckExecutionContext,
    database: WarehouseDatabase,
    quality_thresholds: QualityThresholds,
) -> AssetCheckResult:
    """Transactions whose customer (not an erased one), or one of whose products, is unknown:
    each share at most `max_orphan_rate`, among the run's partitions' transactions (or all when
    the check runs alone). A warning: orphans are expected until their customer or product
    loads."""
    with database.connection() as conn:
        measured = quality.orphans(conn, run_window(context))
    threshold = quality_thresholds.max_orphan_rate
    counts = {
        "unknown_customer": measured.unknown_customer,
        "unknown_product": measured.unknown_product,
    }
    rates = {
        f"{kind}_rate": count / measured.transactions if measured.transactions else 0.0
        for kind, count in counts.items()
    }
    return AssetCheckResult(
        passed=all(rate <= threshold for rate in rates.values()),
        severity=AssetCheckSeverity.WARN,
        metadata={
            "threshold": MetadataValue.float(threshold),
            "transactions": measured.transactions,
            "erased_customer": measured.erased_customer,
            "partition": partition_scope(context),
            **counts,
            **{name: MetadataValue.float(rate) for name, rate in rates.items()},
        },
    )


CHECKS = [
    quarantine_rate_check(transactions, DATASET),
    accounted_for_check(transactions, DATASET),
    schema_drift_check(transactions, DATASET),
    no_direct_identifiers_check(transactions),
    transaction_totals_consistent,
    orphans,
]
