"""GDPR erasure requests, one daily partition per date=YYYY-MM-DD/hour=00/erasure-requests.json
(or .json.gz, or both), and the proof that nothing of an erased customer remains."""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from etl import quality
from etl.erasure_proof import find_residue
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
from pipelines.resources import (
    LandingZone,
    PseudonymKey,
    SchemaContract,
    WarehouseDatabase,
    warehouse_settings,
)

DATASET = "erasure-requests"
PARTITIONS = DAILY
BACKFILL = DAILY_BACKFILL
# Enough places to act on; the check's count is the full number.
_RESIDUE_SHOWN = 20


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
def erasure_requests(
    context: AssetExecutionContext,
    database: WarehouseDatabase,
    landing_zone: LandingZone,
    pseudonym_key: PseudonymKey,
    schema_contract: SchemaContract,
) -> Iterator[MaterializeResult]:
    """The day's erasure requests, carried out: the customer's personal data removed everywhere,
    a tombstone in privacy.erased_customers that keeps later and replayed loads from bringing
    them back, and the outcome in privacy.erasure_log."""
    yield from materialize_partition(
        context, DATASET, database, landing_zone, pseudonym_key, schema_contract
    )


@asset_check(asset=erasure_requests)
def no_residue_after_erasure(
    database: WarehouseDatabase, landing_zone: LandingZone, pseudonym_key: PseudonymKey
) -> AssetCheckResult:
    """No identifier of an erased customer (e-mail, phone, name with date of birth, address, as
    the landing zone gives them) in any table, nor in any file under WAREHOUSE_HOME or
    DAGSTER_HOME: etl.erasure_proof's verifier."""
    settings = warehouse_settings(database, landing_zone, pseudonym_key)
    with database.connection() as conn:
        residue = find_residue(conn, settings)
        erased = quality.erased_customers(conn)
    return AssetCheckResult(
        passed=not residue,
        metadata={
            "residue": len(residue),
            "threshold": 0,
            "erased_customers": erased,
            # pseudonyms and places only: a residue's identifiers are never repeated here
            "places": MetadataValue.json([str(found) for found in residue[:_RESIDUE_SHOWN]]),
        },
    )


CHECKS = [
    quarantine_rate_check(erasure_requests, DATASET),
    accounted_for_check(erasure_requests, DATASET),
    schema_drift_check(erasure_requests, DATASET),
    no_residue_after_erasure,
]
