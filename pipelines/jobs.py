"""One job per dataset: its asset and the asset's checks, a run per partition.

Every run carries the tag `dataset`; dagster.yaml's run queue limits concurrent runs per value.
The freshness checks are left out: `freshness_checks_sensor` evaluates them when they can have
become overdue, and in a run they would be a step of their own, seconds of Dagster's work each
(pipelines/assets/dataset_checks.py).
"""

from dagster import AssetsDefinition, AssetSelection, define_asset_job

from pipelines.assets.customers import customers
from pipelines.assets.erasure_requests import erasure_requests
from pipelines.assets.products import products
from pipelines.assets.transactions import transactions
from pipelines.freshness import FRESHNESS_CHECKS

DATASET_TAG = "dataset"


def _loads(asset: AssetsDefinition) -> AssetSelection:
    """The asset and its own checks."""
    return AssetSelection.assets(asset) - AssetSelection.checks(*FRESHNESS_CHECKS)


customers_job = define_asset_job(
    "customers_job",
    selection=_loads(customers),
    tags={DATASET_TAG: "customers"},
    description="Load one hour of customers and check it.",
)
products_job = define_asset_job(
    "products_job",
    selection=_loads(products),
    tags={DATASET_TAG: "products"},
    description="Load one day's product catalogue and check it.",
)
transactions_job = define_asset_job(
    "transactions_job",
    selection=_loads(transactions),
    tags={DATASET_TAG: "transactions"},
    description="Load one hour of transactions and check them.",
)
erasure_requests_job = define_asset_job(
    "erasure_requests_job",
    selection=_loads(erasure_requests),
    tags={DATASET_TAG: "erasure-requests"},
    description="Carry out one day's erasure requests and prove nothing of them remains.",
)

# Keyed by the landing zone's dataset name (etl.source.landing.DATASETS), for the sensor.
DATASET_JOBS = {
    "products": products_job,
    "customers": customers_job,
    "transactions": transactions_job,
    "erasure-requests": erasure_requests_job,
}
