"""The asset checks, as measures of etl/inspection/quality.py against thresholds.

A check is evaluated in its asset's own step (pipelines/assets/loading.py), after the load,
or alone when only it is selected: as separate steps, each check cost a run two to three seconds
of Dagster's own work for a few milliseconds of queries (in a backfill's run over a range of
partitions, Dagster listed every partition of the asset for each check step), and with the
Celery executor a task each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from dagster import AssetCheckSeverity, MetadataValue

from etl.inspection import quality
from etl.settings import Settings
from etl.source import schema_drift
from etl.source.landing import Window
from pipelines.resources import QualityThresholds


@dataclass(frozen=True)
class CheckScope:
    """What a check measures: the dataset's rows of the run's partitions (`window`), or all of
    them (`window` None) when the check runs alone; `label` names it in the metadata."""

    conn: psycopg.Connection
    dataset: str
    window: Window | None
    label: str
    thresholds: QualityThresholds
    settings: Settings


@dataclass(frozen=True)
class Evaluation:
    passed: bool
    metadata: dict[str, object]
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR


@dataclass(frozen=True)
class Check:
    """An asset check: its name, what it says in the UI, and how it is evaluated."""

    name: str
    description: str
    evaluate: Callable[[CheckScope], Evaluation]


def _quarantine_rate(scope: CheckScope) -> Evaluation:
    measured = quality.quarantine_rate(scope.conn, scope.dataset, scope.window)
    threshold = scope.thresholds.max_quarantine_rate
    return Evaluation(
        passed=measured.rate <= threshold,
        metadata={
            "quarantine_rate": MetadataValue.float(measured.rate),
            "threshold": MetadataValue.float(threshold),
            "records_read": measured.read,
            "records_quarantined": measured.quarantined,
            "files": measured.files,
            "partition": scope.label,
        },
    )


def _accounted_for(scope: CheckScope) -> Evaluation:
    measured = quality.accounting(scope.conn, scope.dataset)
    return Evaluation(
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


def _no_direct_identifiers(scope: CheckScope) -> Evaluation:
    columns = quality.identifier_columns(scope.conn)
    values = quality.identifier_values(scope.conn)
    return Evaluation(
        passed=not columns and not values,
        metadata={
            "identifier_columns": MetadataValue.json(columns),
            "rows_with_identifiers": MetadataValue.json(values),
            "found": len(columns) + sum(values.values()),
            "threshold": 0,
        },
    )


def _schema_drift(scope: CheckScope) -> Evaluation:
    found = schema_drift.drift(scope.conn, scope.dataset, scope.window)
    return Evaluation(
        passed=not found,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "fields": MetadataValue.json([drift.as_json() for drift in found]),
            "records": sum(drift.records for drift in found),
            "threshold": 0,
            "partition": scope.label,
        },
    )


QUARANTINE_RATE = Check(
    "quarantine_rate",
    "Records quarantined among records read, in the run's partitions (or in all loads when the "
    "check runs alone), at most the threshold `max_quarantine_rate`.",
    _quarantine_rate,
)
ACCOUNTED_FOR = Check(
    "every_record_accounted_for",
    "Every record read is loaded, a duplicate, quarantined or erased; quarantine holds no more "
    "than the loads quarantined; no stored row comes from a file without a load.",
    _accounted_for,
)
NO_DIRECT_IDENTIFIERS = Check(
    "no_direct_identifiers",
    "No analytics (warehouse.*) column is named for a direct identifier and no analytics row "
    "holds an e-mail address or a phone number: customers appear only as pseudonyms.",
    _no_direct_identifiers,
)
SCHEMA_DRIFT = Check(
    "schema_drift",
    "No field the schema does not know in the files of the run's partitions (or of all loads, "
    "when the check runs alone). A warning: the schema contract has decided what became of "
    "those records (loaded without the field, or quarantined); whether the schema should gain "
    "the field is for someone to decide.",
    _schema_drift,
)
