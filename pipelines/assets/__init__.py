"""The warehouse's assets, one per dataset of the landing zone, with their checks."""

from pipelines.assets import customers, erasure_requests, products, transactions

_MODULES = (products, customers, transactions, erasure_requests)

# Keyed by the landing zone's dataset name (etl.landing.DATASETS).
DATASET_ASSETS = {
    products.DATASET: products.products,
    customers.DATASET: customers.customers,
    transactions.DATASET: transactions.transactions,
    erasure_requests.DATASET: erasure_requests.erasure_requests,
}
ASSET_CHECKS = [check for module in _MODULES for check in module.CHECKS]
