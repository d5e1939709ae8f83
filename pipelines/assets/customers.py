"""Customers, one hourly partition per date=YYYY-MM-DD/hour=HH/customers.json.gz."""

from collections.abc import Iterator

from dagster import AssetExecutionContext, MaterializeResult, asset

from pipelines.assets import tables
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
from pipelines.partitions import HOURLY, HOURLY_BACKFILL
from pipelines.resources import LandingZone, PseudonymKey, SchemaContract, WarehouseDatabase

DATASET = "customers"
PARTITIONS = HOURLY
BACKFILL = HOURLY_BACKFILL


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
def customers(
    context: AssetExecutionContext,
    database: WarehouseDatabase,
    landing_zone: LandingZone,
    pseudonym_key: PseudonymKey,
    schema_contract: SchemaContract,
) -> Iterator[MaterializeResult]:
    """The hour's customer records: the newest version of each customer, its personal data in
    pii.customers and its pseudonymised analytics row in warehouse.customers."""
    yield from materialize_partition(
        context, DATASET, database, landing_zone, pseudonym_key, schema_contract
    )


CHECKS = [
    quarantine_rate_check(customers, DATASET),
    accounted_for_check(customers, DATASET),
    schema_drift_check(customers, DATASET),
    no_direct_identifiers_check(customers),
]
