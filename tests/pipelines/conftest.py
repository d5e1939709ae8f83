"""Fixtures of the orchestration tests: a small two-day landing zone, resources, runs in-process,
and a real webserver serving the code location.

The landing zone has every dataset in several partitions: a transaction repeated across hours,
a customer updated in a later hour, and an erasure request (customer 2) followed by that
customer's record sent again and a new transaction of theirs.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from dagster import AssetCheckKey, AssetSelection, ExecuteInProcessResult, materialize
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from etl.settings import PROJECT_DIR
from pipelines.assets import DATASET_ASSETS
from pipelines.resources import (
    LandingZone,
    PseudonymKey,
    QualityThresholds,
    SchemaContract,
    WarehouseDatabase,
)
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
    database_url: str,
    raw_data: Path,
    home: Path,
    schema_contract: SchemaContract | None = None,
    **thresholds: float,
) -> dict[str, object]:
    """The definitions' resources, pointed at a test database, landing zone and home."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "database": WarehouseDatabase(url=database_url, home=str(home)),
        "landing_zone": LandingZone(raw_data_dir=str(raw_data)),
        "pseudonym_key": PseudonymKey(key=TEST_KEY.decode(), environment="test"),
        "schema_contract": schema_contract or SchemaContract(),
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


BIN = Path(sys.executable).parent
STARTUP_SECONDS = 90
_LOADED = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(command: list[str], home: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=output, stderr=output)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for_code_location(url: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            answer = httpx.post(f"{url}/graphql", json={"query": _LOADED}, timeout=10).json()
            if answer["data"]["repositoriesOrError"].get("nodes"):
                return
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            answer = None
        if time.monotonic() > deadline:
            pytest.fail(f"no code location in the webserver after {STARTUP_SECONDS}s: {answer}")
        time.sleep(1)


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[str]:
    """The URL of a webserver whose workspace is the repo's, pointed at a local gRPC server of
    the code location, once it has loaded it; its instance (SQLite) is in the test's
    `tmp_path / "dagster_home"`."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)  # a fixture before it may have put runs in it
    grpc_port, web_port = _free_port(), _free_port()
    workspace = yaml.safe_load((PROJECT_DIR / "workspace.yaml").read_text())
    [entry] = workspace["load_from"]
    entry["grpc_server"].update(host="127.0.0.1", port=grpc_port)
    (tmp_path / "workspace.yaml").write_text(yaml.safe_dump(workspace))

    grpc = _start(
        [str(BIN / "dagster"), "api", "grpc", "-m", "pipelines.definitions",
         "-h", "127.0.0.1", "-p", str(grpc_port)],
        home,
        tmp_path / "grpc.log",
    )  # fmt: skip
    web = _start(
        [str(BIN / "dagster-webserver"), "-w", str(tmp_path / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(web_port)],
        home,
        tmp_path / "webserver.log",
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{web_port}"
        _wait_for_code_location(url)
        yield url
    finally:
        _stop(web)
        _stop(grpc)
