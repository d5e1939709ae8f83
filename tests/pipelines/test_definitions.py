"""The code location's definitions: they load, and hold what the UI should show."""

import ast
import json
import os
import subprocess
import sys
from datetime import date

import pytest
from dagster import (
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    HourlyPartitionsDefinition,
)

from etl.settings import PROJECT_DIR
from pipelines.definitions import defs
from pipelines.resources import RESOURCES

SCHEDULES = {
    # name: (job, cron)
    "customers_hourly": ("customers_job", "0 * * * *"),
    "transactions_hourly": ("transactions_job", "0 * * * *"),
    "products_daily": ("products_job", "0 0 * * *"),
    "erasure_requests_daily": ("erasure_requests_job", "0 1 * * *"),
}
JOB_DATASETS = {
    "customers_job": "customers",
    "products_job": "products",
    "transactions_job": "transactions",
    "erasure_requests_job": "erasure-requests",
}


def test_the_definitions_load():
    Definitions.validate_loadable(defs)


def test_each_dataset_has_a_job_tagged_with_it():
    jobs = {job.name: job for job in defs.resolve_all_job_defs() if job.name in JOB_DATASETS}
    assert {name: job.tags["dataset"] for name, job in jobs.items()} == JOB_DATASETS


@pytest.mark.parametrize(("name", "expected"), SCHEDULES.items(), ids=SCHEDULES.keys())
def test_schedules_run_at_their_hour_in_the_time_zone_and_start_off(name, expected):
    schedule = defs.resolve_schedule_def(name)
    assert (schedule.job_name, schedule.cron_schedule) == expected
    assert schedule.execution_timezone == "Europe/Zagreb"
    assert schedule.default_status == DefaultScheduleStatus.STOPPED


def test_the_landing_zone_sensor_launches_every_job_and_starts_off():
    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    assert {target.job_name for target in sensor.targets} == set(JOB_DATASETS)
    assert sensor.default_status == DefaultSensorStatus.STOPPED


def test_each_dataset_job_is_one_step_with_its_checks_and_without_freshness_checks():
    for name in JOB_DATASETS:
        job = defs.resolve_job_def(name)
        checks = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
        assert len(job.graph.node_names()) == 1, name
        assert "schema_drift" in checks and "freshness_check" not in checks, name


def test_the_freshness_sensor_evaluates_every_assets_freshness_check_and_starts_off():
    sensor = defs.resolve_sensor_def("freshness_checks_sensor")
    assert sensor.default_status == DefaultSensorStatus.STOPPED
    checked = {key.asset_key.to_user_string() for key in sensor.asset_selection.resolve_checks(
        defs.resolve_asset_graph())}  # fmt: skip
    assert checked == {"products", "customers", "transactions", "erasure_requests"}


def test_assets_are_partitioned_like_the_landing_zone():
    graph = defs.resolve_asset_graph()
    kinds = {}
    for key in graph.get_all_asset_keys():
        partitions = graph.get(key).partitions_def
        kinds[key.to_user_string()] = type(partitions)
        assert partitions.start.date() == date(2020, 1, 1)
        assert partitions.timezone == "Europe/Zagreb"
        assert graph.get(key).owners == ["team:data-engineering"]
        assert graph.get(key).group_name == "warehouse"
    assert kinds == {
        "customers": HourlyPartitionsDefinition,
        "transactions": HourlyPartitionsDefinition,
        "products": DailyPartitionsDefinition,
        "erasure_requests": DailyPartitionsDefinition,
    }


def test_resources_take_their_settings_from_the_environment_only():
    assert set(RESOURCES) == {
        "database",
        "landing_zone",
        "pseudonym_key",
        "schema_contract",
        "quality_thresholds",
    }
    script = """
import json
from dagster import EnvVar
from pipelines.definitions import defs
from pipelines.resources import RESOURCES
schedule = defs.resolve_schedule_def("products_daily")
partitions = defs.resolve_assets_def("products").partitions_def
print(json.dumps({
    "timezone": schedule.execution_timezone,
    "start": partitions.start.date().isoformat(),
    "url": RESOURCES["database"].url.env_var_name,
    "key": RESOURCES["pseudonym_key"].key.env_var_name,
    "contract": RESOURCES["schema_contract"].customers.env_var_name,
    "max_quarantine_rate": RESOURCES["quality_thresholds"].max_quarantine_rate,
}))
"""
    env = {
        **os.environ,
        "WAREHOUSE_TIMEZONE": "UTC",
        "WAREHOUSE_PARTITIONS_START": "2021-06-01",
        "DATABASE_URL": "postgresql://nobody@nowhere/warehouse",
        "WAREHOUSE_PSEUDONYM_KEY": "a-key-the-ui-must-never-show",
        "WAREHOUSE_MAX_QUARANTINE_RATE": "0.2",
        "WAREHOUSE_SCHEMA_CONTRACT_CUSTOMERS": "freeze",
    }
    output = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(output.splitlines()[-1]) == {
        "timezone": "UTC",
        "start": "2021-06-01",
        "url": "DATABASE_URL",
        "key": "WAREHOUSE_PSEUDONYM_KEY",
        "contract": "WAREHOUSE_SCHEMA_CONTRACT_CUSTOMERS",
        "max_quarantine_rate": 0.2,
    }


def _imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


def test_only_the_pipelines_package_imports_dagster():
    outside = [
        path
        for path in PROJECT_DIR.rglob("*.py")
        if not {".venv", "pipelines", "tests", "build"} & set(path.relative_to(PROJECT_DIR).parts)
    ]
    assert any(path.parent.name == "etl" for path in outside)
    importing = [
        str(path.relative_to(PROJECT_DIR))
        for path in outside
        if any(module.split(".")[0].startswith("dagster") for module in _imported_modules(path))
    ]
    assert importing == []
