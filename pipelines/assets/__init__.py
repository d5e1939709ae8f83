"""The warehouse's assets, one per dataset of the landing zone, each with its checks."""

from pipelines.assets.customers import customers
from pipelines.assets.erasure_requests import erasure_requests
from pipelines.assets.products import products
from pipelines.assets.transactions import transactions

# Keyed by the landing zone's dataset name (etl.source.landing.DATASETS).
DATASET_ASSETS = {
    "products": products,
    "customers": customers,
    "transactions": transactions,
    "erasure-requests": erasure_requests,
}
