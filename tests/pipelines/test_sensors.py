"""The landing-zone sensor: a run per new or changed partition, once; a skipped tick says why."""

import json
import os
from datetime import datetime
from zoneinfo import ZoneInfo

from dagster import build_sensor_context

from pipelines.definitions import defs
from pipelines.partitions import TIMEZONE
from pipelines.resources import LandingZone
from pipelines.sensors import landing_zone_sensor
from tests import landing_zone as lz
from tests.pipelines.conftest import PARTITIONS

JOBS = {
    "products": "products_job",
    "customers": "customers_job",
    "transactions": "transactions_job",
    "erasure_requests": "erasure_requests_job",
}


def _tick(root, cursor=None):
    context = build_sensor_context(
        cursor=cursor,
        resources={"landing_zone": LandingZone(raw_data_dir=str(root))},
        definitions=defs,
    )
    return landing_zone_sensor.evaluate_tick(context)


def _requested(tick):
    return {(r.job_name, r.partition_key): r.run_key for r in tick.run_requests}


def _set_mtime(path, seconds):
    os.utime(path, ns=(seconds * 10**9, seconds * 10**9))


def test_each_new_partition_launches_one_run(landing):
    for number, path in enumerate(sorted(landing.rglob("*.json*"))):
        _set_mtime(path, 1_700_000_000 + number)

    first = _tick(landing)
    again = _tick(landing, first.cursor)

    assert set(_requested(first)) == {(JOBS[asset], key) for asset, key in PARTITIONS}
    assert len(set(_requested(first).values())) == len(PARTITIONS)  # one run key each
    assert json.loads(first.cursor) == {"mtime_ns": (1_700_000_000 + len(PARTITIONS) - 1) * 10**9}
    assert again.run_requests == []
    assert again.skip_message == "no landing file arrived or changed since the last tick"
    assert again.cursor == first.cursor

    # A new hour arrives, and an earlier file is delivered again with other content.
    new = lz.write(landing, "customers", [lz.customer("000009")], "2020-01-02", hour=9)
    changed = lz.write(landing, "products", [lz.product(7)], "2020-01-01")
    _set_mtime(new, 1_800_000_000)
    _set_mtime(changed, 1_800_000_001)
    later = _tick(landing, again.cursor)

    assert set(_requested(later)) == {
        ("customers_job", "2020-01-02-09:00"),
        ("products_job", "2020-01-01"),
    }
    assert (
        _requested(later)["products_job", "2020-01-01"]
        != _requested(first)["products_job", "2020-01-01"]
    )

    # From scratch (a reset cursor) every unchanged partition has its old run key: Dagster
    # launches no run twice for the same key.
    reset = _requested(_tick(landing))
    assert {key: reset[key] for key in _requested(first)} == {
        **_requested(first),
        **{("products_job", "2020-01-01"): _requested(later)["products_job", "2020-01-01"]},
    }


def test_a_partition_not_open_yet_waits_and_one_before_the_start_is_left_out(landing, tmp_path):
    now = datetime.now(ZoneInfo(TIMEZONE))
    for path in landing.rglob("*.json*"):
        _set_mtime(path, 1_700_000_000)
    current_hour = lz.write(
        landing, "transactions", [lz.transaction()], now.date().isoformat(), hour=now.hour
    )
    too_early = lz.write(landing, "customers", [lz.customer()], "2019-12-31", hour=23)
    _set_mtime(current_hour, 1_700_000_100)
    _set_mtime(too_early, 1_700_000_200)
    settled = json.dumps({"mtime_ns": 1_700_000_000 * 10**9})

    tick = _tick(landing, settled)

    assert tick.run_requests == []
    assert tick.skip_message.startswith("1 partition(s) not open yet: transactions")
    # held just below the waiting file, so that the next ticks look at it again
    assert json.loads(tick.cursor) == {"mtime_ns": 1_700_000_100 * 10**9 - 1}
