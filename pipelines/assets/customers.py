"""Customers, one hourly partition per date=YYYY-MM-DD/hour=HH/customers.json.gz."""

from pipelines.assets.dataset_checks import (
    ACCOUNTED_FOR,
    NO_DIRECT_IDENTIFIERS,
    QUARANTINE_RATE,
    SCHEMA_DRIFT,
)
from pipelines.assets.loading import dataset_asset
from pipelines.partitions import HOURLY, HOURLY_BACKFILL

DATASET = "customers"

customers = dataset_asset(
    "customers",
    DATASET,
    HOURLY,
    HOURLY_BACKFILL,
    checks=[QUARANTINE_RATE, ACCOUNTED_FOR, SCHEMA_DRIFT, NO_DIRECT_IDENTIFIERS],
    description="The hour's customer records: the newest version of each customer, its "
    "personal data in pii.customers and its pseudonymised analytics row in warehouse.customers.",
)
