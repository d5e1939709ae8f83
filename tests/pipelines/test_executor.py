"""The executor is chosen by WAREHOUSE_EXECUTOR: steps in the run's own process unless a process
per step or celery is asked for (celery configured from celery.yaml as the workers are)."""

import subprocess
import sys

import pytest
from dagster import in_process_executor, multiprocess_executor
from dagster._config import process_config
from dagster_celery import celery_executor

from etl.settings import PROJECT_DIR
from pipelines.executor import DEFAULT_CELERY_CONFIG, celery_config, warehouse_executor


@pytest.mark.parametrize(
    "environ", [{}, {"WAREHOUSE_EXECUTOR": "in_process"}], ids=["unset", "in_process"]
)
def test_steps_run_in_the_runs_own_process_by_default(environ):
    assert warehouse_executor(environ) is in_process_executor


def test_a_process_per_step_can_be_asked_for():
    assert warehouse_executor({"WAREHOUSE_EXECUTOR": "multiprocess"}) is multiprocess_executor


def test_celery_is_chosen_by_the_environment_and_configured_from_celery_yaml(monkeypatch):
    executor = warehouse_executor({"WAREHOUSE_EXECUTOR": "Celery"})
    assert executor.name == "celery"
    config = celery_config({})
    # the broker's URL (with its password) is read where the step runs, never written down
    assert config["broker"] == {"env": "WAREHOUSE_CELERY_BROKER"}
    monkeypatch.setenv("WAREHOUSE_CELERY_BROKER", "pyamqp://guest:guest@127.0.0.1:5672//")
    assert process_config(celery_executor.config_schema.config_type, config).success


def test_another_celery_config_file_can_be_named(tmp_path):
    other = tmp_path / "celery.yaml"
    other.write_text("execution:\n  config:\n    broker: pyamqp://elsewhere//\n")
    assert celery_config({"WAREHOUSE_CELERY_CONFIG": str(other)}) == {
        "broker": "pyamqp://elsewhere//"
    }
    assert celery_config({}) == celery_config({"WAREHOUSE_CELERY_CONFIG": ""})
    assert DEFAULT_CELERY_CONFIG.parent == PROJECT_DIR


def test_an_unknown_executor_is_refused():
    with pytest.raises(ValueError, match="WAREHOUSE_EXECUTOR='threads'"):
        warehouse_executor({"WAREHOUSE_EXECUTOR": "threads"})


def test_the_code_location_loads_with_the_celery_executor():
    # In a process of its own: the definitions choose their executor when first imported.
    code = (
        "from pipelines.definitions import defs\n"
        "job = defs.get_job_def('transactions_job')\n"
        "print(job.executor_def.name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"WAREHOUSE_EXECUTOR": "celery", "PATH": ""},
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "celery"
