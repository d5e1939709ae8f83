"""Partitions backfilled on two Celery workers (the local RabbitMQ) give the warehouse a
sequential load gives."""

import os
from pathlib import Path

import pytest
from dagster import DagsterRunStatus

from tests import landing_zone as lz
from tests.conftest import TEST_KEY, load, order_free_checksums
from tests.local_deployment import LocalDeployment, broker_reachable

# A dozen partitions: a day's catalogue, five hours of customers (customers updated from several
# hours) and of transactions (some sent again in a later hour), and the day's erasure requests.
HOURS = 5
BACKFILLS = {
    "products_job": ["2020-01-01"],
    "customers_job": [f"2020-01-01-{hour:02d}:00" for hour in range(HOURS)],
    "transactions_job": [f"2020-01-01-{hour:02d}:00" for hour in range(HOURS)],
    "erasure_requests_job": ["2020-01-01"],
}
RUN_SECONDS = 150


@pytest.fixture
def broker() -> None:
    if not broker_reachable():
        if os.environ.get("CI"):
            pytest.fail("RabbitMQ is not running on 127.0.0.1:5672 (.ci/run starts it)")
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")


def test_a_backfill_on_two_celery_workers_equals_a_sequential_load(
    broker, new_database, tmp_path: Path
):
    landing = tmp_path / "raw_data"
    lz.populate(landing, days=1, hours=HOURS, transactions_per_file=60, customers_per_file=15)
    sequential, distributed = new_database(), new_database()
    assert load(sequential, landing).ok

    environ = {
        "DATABASE_URL": distributed,
        "WAREHOUSE_HOME": str(tmp_path / "warehouse_home"),
        "RAW_DATA_DIR": str(landing),
        "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY.decode(),
        "WAREHOUSE_ENV": "test",
        "WAREHOUSE_PARTITIONS_START": "2020-01-01",
    }
    with LocalDeployment(tmp_path / "deployment", environ, workers=2) as deployment:
        # All four backfills at once: their runs, and so their steps, interleave on the workers.
        batches = [deployment.backfill(job, keys) for job, keys in BACKFILLS.items()]
        runs = deployment.wait(batches, sum(map(len, BACKFILLS.values())), RUN_SECONDS)
        steps = deployment.steps_per_worker()

    assert {run.status for run in runs} == {DagsterRunStatus.SUCCESS}
    # Every step went to a worker, and both took their share.
    assert sum(steps.values()) >= len(runs)
    assert all(count >= 2 for count in steps.values()), steps
    assert order_free_checksums(distributed) == order_free_checksums(sequential)
