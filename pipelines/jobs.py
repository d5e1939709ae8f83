"""One job per dataset: its asset and the asset's checks, a run per partition.

Every run carries the tag `dataset`; dagster.yaml's run queue limits concurrent runs per value.
"""

from dagster import define_asset_job

from pipelines.assets.customers import customers
from pipelines.assets.erasure_requests import erasure_requests
from pipelines.assets.products import products
from pipelines.assets.transactions import transactions

DATASET_TAG = "dataset"

customers_job = define_asset_job(
    "customers_job",
    selection=[customers],
    tags={DATASET_TAG: "customers"},
    description="Load one hour of customers and check it.",
)
products_job = define_asset_job(
    "products_job",
    selection=[products],
    tags={DATASET_TAG: "products"},
    description="Load one day's product catalogue and check it.",
)
transactions_job = define_asset_job(
    "transactions_job",
    selection=[transactions],
    tags={DATASET_TAG: "transactions"},
    description="Load one hour of transactions and check them.",
)
erasure_requests_job = define_asset_job(
    "erasure_requests_job",
    selection=[erasure_requests],
    tags={DATASET_TAG: "erasure-requests"},
    description="Carry out one day's erasure requests and prove nothing of them remains.",
)

# Keyed by the landing zone's dataset name (etl.landing.DATASETS), for the sensor.
DATASET_JOBS = {
    "products": products_job,
    "customers": customers_job,
    "transactions": transactions_job,
    "erasure-requests": erasure_requests_job,
}
