"""Where a run's steps execute, chosen by WAREHOUSE_EXECUTOR when the code location loads.

`multiprocess` (the default): in processes of the run itself, wherever the run launcher starts
it (the user-code container, or `dagster dev`). `celery`: each step is a task on a Celery queue
(RabbitMQ), executed by whichever `dagster-celery` worker takes it, so that a backfill spreads
over as many workers as are started (`docker compose up --scale worker=N`). Workers import this
code location and use the run's Dagster instance; both sides read the same celery.yaml.
"""

import os
from collections.abc import Mapping
from pathlib import Path

import yaml
from dagster import ExecutorDefinition, multi_or_in_process_executor

from etl.settings import PROJECT_DIR

EXECUTOR_VARIABLE = "WAREHOUSE_EXECUTOR"
CONFIG_VARIABLE = "WAREHOUSE_CELERY_CONFIG"
DEFAULT_CELERY_CONFIG = PROJECT_DIR / "celery.yaml"
EXECUTORS = ("multiprocess", "celery")


def celery_config(environ: Mapping[str, str] = os.environ) -> dict:
    """The Celery executor's config block from celery.yaml (or $WAREHOUSE_CELERY_CONFIG).

    Environment references (`{env: NAME}`) stay as they are: Dagster resolves them where the
    run and the workers execute, so the broker's password never appears in the UI.
    """
    path = Path(environ.get(CONFIG_VARIABLE) or DEFAULT_CELERY_CONFIG)
    return yaml.safe_load(path.read_text())["execution"]["config"]


def warehouse_executor(environ: Mapping[str, str] = os.environ) -> ExecutorDefinition:
    """The executor every job of the code location runs with.

    Raises:
        ValueError: WAREHOUSE_EXECUTOR names no known executor.
    """
    choice = (environ.get(EXECUTOR_VARIABLE) or "multiprocess").strip().lower()
    if choice == "multiprocess":
        return multi_or_in_process_executor
    if choice == "celery":
        # Imported only when chosen: dagster-celery is the optional `celery` extra.
        from dagster_celery import celery_executor

        return celery_executor.configured(celery_config(environ), name="celery")
    raise ValueError(f"{EXECUTOR_VARIABLE}={choice!r}: expected one of {', '.join(EXECUTORS)}")
