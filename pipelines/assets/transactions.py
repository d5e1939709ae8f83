"""Transactions with their items, one hourly partition per
date=YYYY-MM-DD/hour=HH/transactions.json.gz, and the checks of their totals and orphans."""

from dagster import AssetCheckSeverity, MetadataValue

from etl.inspection import quality
from pipelines.assets.dataset_checks import (
    ACCOUNTED_FOR,
    NO_DIRECT_IDENTIFIERS,
    QUARANTINE_RATE,
    SCHEMA_DRIFT,
    Check,
    CheckScope,
    Evaluation,
)
from pipelines.assets.loading import dataset_asset
from pipelines.partitions import HOURLY, HOURLY_BACKFILL

DATASET = "transactions"


def _totals(scope: CheckScope) -> Evaluation:
    measured = quality.transaction_totals(scope.conn, window=scope.window)
    return Evaluation(
        passed=measured.inconsistent == 0,
        metadata={
            "inconsistent": measured.inconsistent,
            "threshold": 0,
            "transactions": measured.transactions,
            "examples": MetadataValue.json(list(measured.examples)),
            "partition": scope.label,
        },
    )


def _orphans(scope: CheckScope) -> Evaluation:
    measured = quality.orphans(scope.conn, scope.window)
    threshold = scope.thresholds.max_orphan_rate
    counts = {
        "unknown_customer": measured.unknown_customer,
        "unknown_product": measured.unknown_product,
    }
    rates = {
        f"{kind}_rate": count / measured.transactions if measured.transactions else 0.0
        for kind, count in counts.items()
    }
    return Evaluation(
        passed=all(rate <= threshold for rate in rates.values()),
        severity=AssetCheckSeverity.WARN,
        metadata={
            "threshold": MetadataValue.float(threshold),
            "transactions": measured.transactions,
            "erased_customer": measured.erased_customer,
            "partition": scope.label,
            **counts,
            **{name: MetadataValue.float(rate) for name, rate in rates.items()},
        },
    )


TOTALS_CONSISTENT = Check(
    "transaction_totals_consistent",
    "Every stored transaction's lines add up (line total = price x quantity, total_cost = sum "
    "of the line totals): those of the run's partitions, or all when the check runs alone (a "
    "partition's check reads its partition's rows, whatever the history).",
    _totals,
)
ORPHANS = Check(
    "orphans",
    "Transactions whose customer (not an erased one), or one of whose products, is unknown: "
    "each share at most `max_orphan_rate`, among the run's partitions' transactions (or all "
    "when the check runs alone). A warning: orphans are expected until their customer or "
    "product loads.",
    _orphans,
)

transactions = dataset_asset(
    "transactions",
    DATASET,
    HOURLY,
    HOURLY_BACKFILL,
    checks=[
        QUARANTINE_RATE,
        ACCOUNTED_FOR,
        SCHEMA_DRIFT,
        NO_DIRECT_IDENTIFIERS,
        TOTALS_CONSISTENT,
        ORPHANS,
    ],
    description="The hour's transactions: warehouse.transactions, one "
    "warehouse.transaction_items row per purchased line, delivery addresses apart in "
    "pii.delivery_addresses.",
    # Lineage only: a transaction loads before its customer or products do, as an orphan.
    deps=["customers", "products"],
)
