"""Dagster's partition freshness checks: a partition not materialised by its deadline is late,
and `warehouse status` calls the same partition overdue."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from dagster import AssetSelection, DagsterInstance, materialize
from dagster._core.test_utils import freeze_time

from etl.inspection.status import status
from pipelines.freshness import DAILY_DEADLINE, FRESHNESS_CHECKS, HOURLY_DEADLINE
from tests import landing_zone as lz
from tests.pipelines.conftest import ASSETS, resources

TZ = ZoneInfo("Europe/Zagreb")
DAY = "2020-01-01"


def _freshness(asset_key, instance, now, test_resources):
    """The freshness check of one asset evaluated at `now`, against what `instance` holds."""
    with freeze_time(now):
        result = materialize(
            [*ASSETS.values(), *FRESHNESS_CHECKS],
            selection=AssetSelection.checks(*FRESHNESS_CHECKS),
            resources=test_resources,
            instance=instance,
        )
    [evaluation] = [
        e for e in result.get_asset_check_evaluations() if e.asset_key.to_user_string() == asset_key
    ]
    return evaluation


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def test_the_deadlines_are_a_quarter_past_the_next_hour_and_six_in_the_morning():
    assert (HOURLY_DEADLINE, DAILY_DEADLINE) == ("15 * * * *", "0 6 * * *")
    checked = {
        key.asset_key.to_user_string() for check in FRESHNESS_CHECKS for key in check.check_keys
    }
    assert checked == set(ASSETS)


def test_a_missing_hour_is_late_in_dagster_and_overdue_in_status(
    tmp_path, database_url, conn, instance
):
    root = tmp_path / "landing"
    for hour in (3, 4, 6):  # the drop of hour 05 never came
        sale = lz.transaction(
            f"00000000-0000-4000-8000-0000000000{hour:02d}",
            transaction_time=f"{DAY}T{hour:02d}:10:00",
        )
        lz.write(root, "transactions", [sale], DAY, hour)
    test_resources = resources(database_url, root, tmp_path / "home")
    # as the hourly schedule would: every hour, drop or not
    for hour in range(3, 7):
        key = f"{DAY}-{hour:02d}:00"
        result = materialize(
            [ASSETS["transactions"]], partition_key=key, resources=test_resources, instance=instance
        )
        assert result.success
        materialized = [m.partition for m in result.asset_materializations_for_node("transactions")]
        assert materialized == ([] if hour == 5 else [key])  # no drop, nothing materialised

    before = _freshness(
        "transactions", instance, datetime(2020, 1, 1, 6, 14, tzinfo=TZ), test_resources
    )
    late = _freshness(
        "transactions", instance, datetime(2020, 1, 1, 6, 20, tzinfo=TZ), test_resources
    )

    assert before.passed  # due by 05:15: hour 04, materialised
    assert not late.passed
    assert late.description == (
        "Asset is overdue. We expected partition 2020-01-01-05:00 to have arrived, and it has not."
    )
    report = status(conn, root, "Europe/Zagreb", datetime(2020, 1, 1, 6, 20, tzinfo=TZ))
    assert report["transactions"]["overdue"] == [
        {"first": "2020-01-01-05:00", "last": "2020-01-01-05:00", "partitions": 1,
         "reason": "no drop"}
    ]  # fmt: skip

    # the drop lands late, and loads: fresh again
    sale = lz.transaction(transaction_time=f"{DAY}T05:10:00")
    lz.write(root, "transactions", [sale], DAY, 5)
    materialize(
        [ASSETS["transactions"]], partition_key=f"{DAY}-05:00", resources=test_resources,
        instance=instance,
    )  # fmt: skip
    assert _freshness(
        "transactions", instance, datetime(2020, 1, 1, 6, 20, tzinfo=TZ), test_resources
    ).passed


def test_a_day_is_due_at_six_on_that_day_and_customers_load_without_a_drop(
    tmp_path, database_url, instance
):
    root = tmp_path / "landing"
    lz.write(root, "products", [lz.product(1)], DAY)
    test_resources = resources(database_url, root, tmp_path / "home")
    materialize(
        [ASSETS["products"]], partition_key=DAY, resources=test_resources, instance=instance
    )
    # customers are sent only when they change: a partition without them still materialises
    empty = materialize(
        [ASSETS["customers"]], partition_key=f"{DAY}-05:00", resources=test_resources,
        instance=instance,
    )  # fmt: skip
    assert [m.partition for m in empty.asset_materializations_for_node("customers")] == [
        f"{DAY}-05:00"
    ]

    assert _freshness(
        "products", instance, datetime(2020, 1, 2, 5, 59, tzinfo=TZ), test_resources
    ).passed
    next_day = _freshness(
        "products", instance, datetime(2020, 1, 2, 6, 0, tzinfo=TZ), test_resources
    )
    assert not next_day.passed
    assert "We expected partition 2020-01-02 to have arrived" in next_day.description
    assert _freshness(
        "customers", instance, datetime(2020, 1, 1, 6, 15, tzinfo=TZ), test_resources
    ).passed
