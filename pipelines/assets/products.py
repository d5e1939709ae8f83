"""The product catalogue, one daily partition per date=YYYY-MM-DD/hour=00/products.json.gz."""

from collections.abc import Iterator

from dagster import AssetExecutionContext, MaterializeResult, asset

from pipelines.assets import tables
from pipelines.assets.dataset_checks import (
    accounted_for_check,
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
from pipelines.partitions import DAILY, DAILY_BACKFILL
from pipelines.resources import LandingZone, PseudonymKey, SchemaContract, WarehouseDatabase

DATASET = "products"
PARTITIONS = DAILY
BACKFILL = DAILY_BACKFILL


@asset(
    partitions_def=PARTITIONS,
    backfill_policy=BACKFILL,
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    retry_policy=RETRY,
    output_required=output_required(DATASET),
    metadata=tables.definition_metadata(DATASET),
    tags={"dataset": DATASET},
)
def products(
    context: AssetExecutionContext,
    database: WarehouseDatabase,
    landing_zone: LandingZone,
    pseudonym_key: PseudonymKey,
    schema_contract: SchemaContract,
) -> Iterator[MaterializeResult]:
    """The day's catalogue: every product's price that day in warehouse.product_catalogue, and
    warehouse.products as of the newest catalogue."""
    yield from materialize_partition(
        context, DATASET, database, landing_zone, pseudonym_key, schema_contract
    )


CHECKS = [
    quarantine_rate_check(products, DATASET),
    accounted_for_check(products, DATASET),
    schema_drift_check(products, DATASET),
]
