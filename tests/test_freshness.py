"""When partitions fall due, and which are overdue: from the landing zone and the load log."""

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from etl.cli import main as warehouse
from etl.inspection.freshness import FEEDS, _due_partitions, due
from etl.inspection.status import status
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, load

TZ = ZoneInfo("Europe/Zagreb")
DAY = "2020-01-01"


def _landing_zone(root):
    """Transactions for hours 00 to 06 but 05 (its drop never came), the day's catalogue,
    customers in hours 01 and 02; loaded; then drops for transactions hour 07 and customers
    hour 03 land and are not loaded yet."""
    lz.write(root, "products", [lz.product(1)], DAY)
    for hour in (0, 1, 2, 3, 4, 6):
        transaction = lz.transaction(
            f"00000000-0000-4000-8000-0000000000{hour:02d}",
            transaction_time=f"{DAY}T{hour:02d}:10:00",
        )
        lz.write(root, "transactions", [transaction], DAY, hour)
    for hour in (1, 2):
        lz.write(root, "customers", [lz.customer(f"00000{hour}")], DAY, hour)


def _land_late_drops(root):
    lz.write(root, "transactions", [lz.transaction(transaction_time=f"{DAY}T07:10:00")], DAY, 7)
    lz.write(root, "customers", [lz.customer("000003")], DAY, 3)


def test_due_times():
    assert due((date(2020, 1, 1), 5), TZ) == datetime(2020, 1, 1, 6, 15, tzinfo=TZ)
    assert due((date(2020, 1, 1), 23), TZ) == datetime(2020, 1, 2, 0, 15, tzinfo=TZ)
    assert due((date(2020, 1, 1), None), TZ) == datetime(2020, 1, 1, 6, 0, tzinfo=TZ)


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2020-03-29", [0, 1, 3, 4]), ("2020-10-25", [0, 1, 2, 3, 4])],
    ids=["clocks-spring-forward", "clocks-fall-back"],
)
def test_hours_are_the_clocks_each_once(day, hours):
    first = date.fromisoformat(day)
    now = datetime.combine(first, datetime.min.time(), TZ).replace(hour=6, minute=0)
    partitions = list(_due_partitions(FEEDS["transactions"], (first, 0), TZ, now))
    assert partitions == [(first, hour) for hour in hours]


def test_a_missing_hour_and_drops_not_loaded_are_overdue(tmp_path, database_url, conn):
    root = tmp_path / "landing"
    _landing_zone(root)
    assert load(database_url, root).ok
    _land_late_drops(root)

    report = status(conn, root, "Europe/Zagreb", datetime(2020, 1, 1, 8, 20, tzinfo=TZ))

    assert report["transactions"]["newest_partition"] == "2020-01-01-06:00"
    assert report["transactions"]["overdue"] == [
        {"first": "2020-01-01-05:00", "last": "2020-01-01-05:00", "partitions": 1,
         "reason": "no drop"},
        {"first": "2020-01-01-07:00", "last": "2020-01-01-07:00", "partitions": 1,
         "reason": "not loaded"},
    ]  # fmt: skip
    # customers come only when they change: an hour without them is not overdue, one that
    # landed and is not loaded is
    assert report["customers"]["newest_partition"] == "2020-01-01-02:00"
    assert report["customers"]["overdue"] == [
        {"first": "2020-01-01-03:00", "last": "2020-01-01-03:00", "partitions": 1,
         "reason": "not loaded"}
    ]  # fmt: skip
    assert (report["products"]["newest_partition"], report["products"]["overdue"]) == (DAY, [])

    # before 06:15, hour 05 is not due yet; the next morning, the catalogue is
    early = status(conn, root, "Europe/Zagreb", datetime(2020, 1, 1, 6, 14, tzinfo=TZ))
    assert early["transactions"]["overdue"] == []
    morning = status(conn, root, "Europe/Zagreb", datetime(2020, 1, 2, 6, 0, tzinfo=TZ))
    assert [(o["first"], o["last"], o["reason"]) for o in morning["transactions"]["overdue"]] == [
        ("2020-01-01-05:00", "2020-01-01-05:00", "no drop"),
        ("2020-01-01-07:00", "2020-01-01-07:00", "not loaded"),
        ("2020-01-01-08:00", "2020-01-02-04:00", "no drop"),
    ]
    assert morning["transactions"]["overdue"][-1]["partitions"] == 21
    assert morning["products"]["overdue"] == [
        {"first": "2020-01-02", "last": "2020-01-02", "partitions": 1, "reason": "no drop"}
    ]
    # without the landing zone nothing tells a missing drop from one not loaded
    blind = status(
        conn, tmp_path / "nowhere", "Europe/Zagreb", datetime(2020, 1, 1, 8, 20, tzinfo=TZ)
    )
    assert [o["reason"] for o in blind["transactions"]["overdue"]] == ["not loaded"] * 2
    assert blind["customers"]["overdue"] == []


def test_status_shows_the_newest_partition_and_what_is_overdue(tmp_path, database_url):
    root = tmp_path / "landing"
    _landing_zone(root)
    assert load(database_url, root).ok
    env = {"DATABASE_URL": database_url, "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY.decode()}

    text = CliRunner().invoke(warehouse, ["status", "--raw-data", str(root)], env=env).output
    report = json.loads(
        CliRunner().invoke(warehouse, ["status", "--json", "--raw-data", str(root)], env=env).output
    )

    # now is years after the landing zone's day: every hour since is overdue
    since = report["transactions"]["overdue"][-1]
    assert (since["first"], since["reason"]) == ("2020-01-01-07:00", "no drop")
    assert since["partitions"] > 24 * 365
    assert (
        "  newest partition 2020-01-01-06:00; overdue: 2020-01-01-05:00 (no drop); "
        "2020-01-01-07:00 to "
    ) in text
