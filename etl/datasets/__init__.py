"""The datasets of the landing zone, each module one dataset's rules, and their registry.

The registry is this explicit tuple, in load order: products and customers before the
transactions that name them, erasure requests last.
"""

from __future__ import annotations

from etl.datasets import customers, erasure_requests, products, transactions
from etl.loading.dataset import Dataset

DATASETS: tuple[Dataset, ...] = (
    products.DATASET,
    customers.DATASET,
    transactions.DATASET,
    erasure_requests.DATASET,
)

_BY_NAME = {dataset.name: dataset for dataset in DATASETS}


def dataset(name: str) -> Dataset:
    """The dataset of that landing-file name.

    Raises:
        ValueError: no dataset has that name.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(_BY_NAME)}") from None
