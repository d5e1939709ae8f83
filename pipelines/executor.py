"""Where a run's steps execute, chosen by WAREHOUSE_EXECUTOR when the code location loads.

`in_process` (the default): one after the other in the run's own process, wherever the run
launcher starts it (the user-code container, or `dagster dev`). A run is an asset's step and
its checks' steps, each a few milliseconds of queries after the load: a process per step
(`multiprocess`, Dagster's default) spent two to five seconds starting each of them, most of a
run's time. `multiprocess`: a process per step. `celery`: each step is a task on a Celery queue
(RabbitMQ), executed by whichever `dagster-celery` worker takes it, so that a backfill spreads
over as many workers as are started (`docker compose up --scale worker=N`). Workers import this
code location and use the run's Dagster instance; both sides read the same celery.yaml.
"""

import os
from collections.abc import Mapping
from pathlib import Path

import yaml
from dagster import ExecutorDefinition, in_process_executor, multiprocess_executor

from etl.settings import PROJECT_DIR

EXECUTOR_VARIABLE = "WAREHOUSE_EXECUTOR"
CONFIG_VARIABLE = "WAREHOUSE_CELERY_CONFIG"
DEFAULT_CELERY_CONFIG = PROJECT_DIR / "celery.yaml"
EXECUTORS = ("in_process", "multiprocess", "celery")


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
    choice = (environ.get(EXECUTOR_VARIABLE) or "in_process").strip().lower()
    if choice == "in_process":
        return in_process_executor
    if choice == "multiprocess":
        return multiprocess_executor
    if choice == "celery":
        # Imported only when chosen: dagster-celery is the optional `celery` extra.
        from dagster_celery import celery_executor

        return celery_executor.configured(celery_config(environ), name="celery")
    raise ValueError(f"{EXECUTOR_VARIABLE}={choice!r}: expected one of {', '.join(EXECUTORS)}")
