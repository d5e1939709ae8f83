"""Checks every dataset's asset carries: quarantine rate, every record accounted for, schema
drift, and (for the datasets that bring personal data) no direct identifier in the analytics
tables."""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetsDefinition,
    MetadataValue,
    asset_check,
)

from etl import quality, schema_drift
from pipelines.partitions import partition_scope, run_window
from pipelines.resources import QualityThresholds, WarehouseDatabase


def quarantine_rate_check(asset: AssetsDefinition, dataset: str) -> AssetChecksDefinition:
    """The quarantine-rate check of `dataset`'s asset."""

    @asset_check(asset=asset, name="quarantine_rate")
    def check(
        context: AssetCheckExecutionContext,
        database: WarehouseDatabase,
        quality_thresholds: QualityThresholds,
    ) -> AssetCheckResult:
        """Records quarantined among records read, in the run's partitions (or in all loads when
        the check runs alone), at most the threshold `max_quarantine_rate`."""
        with database.connection() as conn:
            measured = quality.quarantine_rate(conn, dataset, run_window(context))
        threshold = quality_thresholds.max_quarantine_rate
        return AssetCheckResult(
            passed=measured.rate <= threshold,
            metadata={
                "quarantine_rate": MetadataValue.float(measured.rate),
                "threshold": MetadataValue.float(threshold),
                "records_read": measured.read,
                "records_quarantined": measured.quarantined,
                "files": measured.files,
                "partition": partition_scope(context),
            },
        )

    return check


def accounted_for_check(asset: AssetsDefinition, dataset: str) -> AssetChecksDefinition:
    """The accounting check of `dataset`'s asset."""

    @asset_check(asset=asset, name="every_record_accounted_for")
    def check(database: WarehouseDatabase) -> AssetCheckResult:
        """Every record read is loaded, a duplicate, quarantined or erased; quarantine holds no
        more than the loads quarantined; no stored row comes from a file without a load."""
        with database.connection() as conn:
            measured = quality.accounting(conn, dataset)
        return AssetCheckResult(
            passed=measured.unaccounted == 0,
            metadata={
                "unaccounted": measured.unaccounted,
                "threshold": 0,
                "files": measured.files,
                "records_read": measured.records_read,
                "records_accounted_for": measured.records_accounted_for,
                "quarantined_without_load": measured.quarantined_without_load,
                "quarantined_beyond_count": measured.quarantined_beyond_count,
                "rows_without_load": measured.rows_without_load,
            },
        )

    return check


def schema_drift_check(asset: AssetsDefinition, dataset: str) -> AssetChecksDefinition:
    """The schema-drift check of `dataset`'s asset."""

    @asset_check(asset=asset, name="schema_drift")
    def check(context: AssetCheckExecutionContext, database: WarehouseDatabase) -> AssetCheckResult:
        """No field the schema does not know in the files of the run's partitions (or of all
        loads, when the check runs alone). A warning: the schema contract has decided what
        became of those records (loaded without the field, or quarantined); whether the schema
        should gain the field is for someone to decide."""
        with database.connection() as conn:
            found = schema_drift.drift(conn, dataset, run_window(context))
        return AssetCheckResult(
            passed=not found,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "fields": MetadataValue.json([drift.as_json() for drift in found]),
                "records": sum(drift.records for drift in found),
                "threshold": 0,
                "partition": partition_scope(context),
            },
        )

    return check


def no_direct_identifiers_check(asset: AssetsDefinition) -> AssetChecksDefinition:
    """The check that analytics tables hold no direct identifier, on `asset`."""

    @asset_check(asset=asset, name="no_direct_identifiers")
    def check(database: WarehouseDatabase) -> AssetCheckResult:
        """No analytics (warehouse.*) column is named for a direct identifier and no analytics
        row holds an e-mail address or a phone number: customers appear only as pseudonyms."""
        with database.connection() as conn:
            columns = quality.identifier_columns(conn)
            values = quality.identifier_values(conn)
        return AssetCheckResult(
            passed=not columns and not values,
            metadata={
                "identifier_columns": MetadataValue.json(columns),
                "rows_with_identifiers": MetadataValue.json(values),
                "found": len(columns) + sum(values.values()),
                "threshold": 0,
            },
        )

    return check
