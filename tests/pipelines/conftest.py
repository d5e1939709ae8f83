"""Fixtures of the orchestration tests: a small two-day landing zone, resources, runs in-process.

The landing zone has every dataset in several partitions: a transaction repeated across hours,
a customer updated in a later hour, and an erasure request (customer 2) followed by that
customer's record sent again and a new transaction of theirs.
"""

from collections.abc import Iterable
from pathlib import Path

import pytest
from dagster import AssetCheckKey, AssetSelection, ExecuteInProcessResult, materialize
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from pipelines.assets import DATASET_ASSETS
from pipelines.resources import LandingZone, PseudonymKey, QualityThresholds, WarehouseDatabase
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, load

T1 = "00000000-0000-4000-8000-000000000001"
T2 = "00000000-0000-4000-8000-000000000002"
T3 = "00000000-0000-4000-8000-000000000003"
T4 = "00000000-0000-4000-8000-000000000004"
T5 = "00000000-0000-4000-8000-000000000005"

# (asset key, partition key) of every partition the landing zone holds.
PARTITIONS = [
    ("products", "2020-01-01"),
    ("products", "2020-01-02"),
    ("customers", "2020-01-01-05:00"),
    ("customers", "2020-01-01-07:00"),
    ("customers", "2020-01-02-03:00"),
    ("transactions", "2020-01-01-05:00"),
    ("transactions", "2020-01-01-06:00"),
    ("transactions", "2020-01-02-03:00"),
    ("erasure_requests", "2020-01-02"),
]
ERASED_ID = "000002"


def customer(n: int, **overrides) -> dict:
    """Customer n, with identifiers of their own (the residue check matches them)."""
    return lz.customer(
        f"{n:06d}",
        first_name=f"First{n}",
        last_name=f"Last{n}",
        date_of_birth=f"1980-01-{n:02d}",
        phone_number=f"+44 161 496 0{n:03d}",
        address=f"{n} Distinct Road",
        **overrides,
    )


def transaction(transaction_id: str, n: int, lines, time: str) -> dict:
    address = {"address": f"{n} Delivery Lane", "postcode": "d06ehha", "city": "Mariastad",
               "country": "Republic of Ireland"}  # fmt: skip
    return lz.transaction(
        transaction_id, f"{n:06d}", lines, transaction_time=time, delivery_address=address
    )


def write_landing_zone(root: Path) -> Path:
    day1, day2 = "2020-01-01", "2020-01-02"
    lz.write(root, "products", [lz.product(1, price="10.00"), lz.product(2, price="5.00")], day1)
    lz.write(root, "customers", [customer(1), customer(2)], day1, hour=5)
    lz.write(
        root,
        "transactions",
        [
            transaction(T1, 1, ((1, 2, "10.00"),), "2020-01-01T05:10:00"),
            transaction(T2, 2, ((2, 1, "5.00"),), "2020-01-01T05:20:00"),
        ],
        day1,
        hour=5,
    )
    lz.write(
        root,
        "transactions",
        [
            transaction(T3, 1, ((1, 1, "10.00"), (2, 3, "5.00")), "2020-01-01T06:10:00"),
            transaction(T1, 1, ((1, 2, "10.00"),), "2020-01-01T05:10:00"),  # a repeat
        ],
        day1,
        hour=6,
    )
    lz.write(root, "customers", [customer(3), customer(1, last_change="2020-01-05")], day1, hour=7)
    products = [lz.product(1, price="11.00"), lz.product(2, price="5.00"), lz.product(3)]
    lz.write(root, "products", products, day2)
    request = {"customer-id": ERASED_ID, "email": f"person{ERASED_ID}@example.com"}
    lz.write(root, "erasure-requests", [request], day2, gz=False)
    lz.write(root, "customers", [customer(2, last_change="2020-01-06")], day2, hour=3)
    lz.write(
        root,
        "transactions",
        [
            transaction(T4, 2, ((3, 1, "21.00"),), "2020-01-02T03:10:00"),
            transaction(T5, 3, ((1, 1, "11.00"),), "2020-01-02T03:20:00"),
        ],
        day2,
        hour=3,
    )
    return root


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    return write_landing_zone(tmp_path / "raw_data")


def resources(
    database_url: str, raw_data: Path, home: Path, **thresholds: float
) -> dict[str, object]:
    """The definitions' resources, pointed at a test database, landing zone and home."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "database": WarehouseDatabase(url=database_url, home=str(home)),
        "landing_zone": LandingZone(raw_data_dir=str(raw_data)),
        "pseudonym_key": PseudonymKey(key=TEST_KEY.decode(), environment="test"),
        "quality_thresholds": QualityThresholds(**thresholds),
    }


@pytest.fixture
def loaded(database_url: str, landing: Path, tmp_path: Path) -> dict[str, object]:
    """The landing zone loaded (without Dagster) into a fresh database; its resources."""
    summary = load(database_url, landing)
    assert summary.ok, summary.render()
    return resources(database_url, landing, tmp_path / "home")


ASSETS = {asset.key.to_user_string(): asset for asset in DATASET_ASSETS.values()}
# Every asset check, by its key.
ASSET_CHECKS = [key for asset in ASSETS.values() for key in asset.check_keys]


def checks_of(asset_key: str) -> list[AssetCheckKey]:
    return sorted(ASSETS[asset_key].check_keys, key=lambda key: key.name)


def run_partition(
    asset_key: str, partition_key: str, resources: dict[str, object], with_checks: bool = False
) -> ExecuteInProcessResult:
    """Materialise one partition of one asset in-process (and evaluate its checks after it, in
    its step)."""
    selection = AssetSelection.assets(ASSETS[asset_key])
    return materialize(
        [ASSETS[asset_key]],
        resources=resources,
        partition_key=partition_key,
        selection=selection if with_checks else selection.without_checks(),
    )


def run_range(
    asset_key: str, first: str, last: str, resources: dict[str, object]
) -> ExecuteInProcessResult:
    """Materialise a range of partitions of one asset in one run, as a backfill with the
    assets' backfill policy does (and run its checks after it)."""
    return materialize(
        [ASSETS[asset_key]],
        resources=resources,
        tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last},
    )


def run_checks(
    checks: Iterable[AssetCheckKey], resources: dict[str, object]
) -> dict[tuple[str, str], object]:
    """Run asset checks alone (outside any partition); their evaluations by (asset, check)."""
    result = materialize(
        list(ASSETS.values()), resources=resources, selection=AssetSelection.checks(*checks)
    )
    return {
        (evaluation.asset_key.to_user_string(), evaluation.check_name): evaluation
        for evaluation in result.get_asset_check_evaluations()
    }
