"""The Celery deployment on this machine, as docker compose runs it: a gRPC code server whose
runs put their steps on a RabbitMQ queue, `dagster-celery` workers that execute them, and a
Dagster instance (SQLite) in a DAGSTER_HOME of its own that the runs and the workers share.

Used by tests/pipelines/test_celery.py and bench/scale_out.py. The broker is the local RabbitMQ
(.ci/run starts it); each deployment has a queue of its own, deleted when it closes, so that
nothing another run of the tests left behind reaches its workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import yaml
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from etl.settings import PROJECT_DIR

BIN = Path(sys.executable).parent
BROKER_HOST, BROKER_PORT = "127.0.0.1", 5672
BROKER_URL = f"pyamqp://guest:guest@{BROKER_HOST}:{BROKER_PORT}//"
STARTUP_SECONDS = 90
_FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def broker_reachable(timeout: float = 2.0) -> bool:
    """Whether RabbitMQ answers on 127.0.0.1:5672."""
    try:
        with socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=timeout):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalDeployment:
    """A code server and `workers` Celery workers (one task at a time each) under `root`.

    `environ` holds the warehouse's settings (DATABASE_URL, RAW_DATA_DIR, the pseudonym key...):
    every process gets them, as every compose service gets the same environment. Without
    `code_server`, only the workers start: a `dagster dev` with this `environ` and `home` (see
    tests/dagster_dev.py) then serves the code, launches the runs and hands their steps to them.
    """

    def __init__(
        self, root: Path, environ: Mapping[str, str], workers: int = 2, code_server: bool = True
    ) -> None:
        self.root = root
        self.home = root / "dagster_home"
        self.home.mkdir(parents=True)
        # Runs start as soon as they are submitted (no daemon to dequeue them).
        instance = {
            "run_coordinator": {
                "module": "dagster._core.run_coordinator",
                "class": "DefaultRunCoordinator",
            },
            "telemetry": {"enabled": False},
        }
        (self.home / "dagster.yaml").write_text(yaml.safe_dump(instance))
        self.queue = f"warehouse-test-{uuid.uuid4().hex[:8]}"
        config = yaml.safe_load((PROJECT_DIR / "celery.yaml").read_text())
        config["execution"]["config"]["config_source"] = {"task_default_queue": self.queue}
        self.celery_config = root / "celery.yaml"
        self.celery_config.write_text(yaml.safe_dump(config))
        self.environ = {
            **os.environ,
            **environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DAGSTER_HOME": str(self.home),
            "WAREHOUSE_EXECUTOR": "celery",
            "WAREHOUSE_CELERY_CONFIG": str(self.celery_config),
            "WAREHOUSE_CELERY_BROKER": BROKER_URL,
        }
        self.workers = workers
        self.code_server = code_server
        self._processes: list[tuple[subprocess.Popen, Path]] = []

    def __enter__(self) -> LocalDeployment:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> None:
        # Created here, once: processes starting together would race to create its tables.
        with self.instance():
            pass
        if self.code_server:
            self._start_code_server()
        # The compose worker's command, with a queue of this deployment's own and one task at a
        # time, so that N workers are N steps at once.
        worker = [
            *(str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app"),
            *("-y", str(self.celery_config), "-i", "pipelines.definitions", "-q", self.queue),
        ]
        workers = [
            self._spawn(f"worker{n}", [*worker, "-n", f"worker{n}-{self.queue}", "--", "-c", "1"])
            for n in range(1, self.workers + 1)
        ]
        for worker in workers:
            self._wait_for(worker, " ready.")

    def _start_code_server(self) -> None:
        port = _free_port()
        workspace = {
            "load_from": [
                {"grpc_server": {"host": "127.0.0.1", "port": port, "location_name": "warehouse"}}
            ]
        }
        self.workspace = self.root / "workspace.yaml"
        self.workspace.write_text(yaml.safe_dump(workspace))
        server = self._spawn(
            "grpc",
            [str(BIN / "dagster"), "api", "grpc", "-m", "pipelines.definitions",
             "-h", "127.0.0.1", "-p", str(port)],
        )  # fmt: skip
        self._wait_for(server, "Started Dagster code server")

    def _spawn(self, name: str, command: list[str]) -> Path:
        log = self.root / f"{name}.log"
        with log.open("wb") as output:
            # A session of its own: the worker command starts `celery` as a child, and both
            # must stop together.
            # Not in the project directory, whose .env (development defaults) Dagster would read.
            process = subprocess.Popen(
                command,
                cwd=self.root,
                env=self.environ,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._processes.append((process, log))
        return log

    def _wait_for(self, log: Path, line: str) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while line not in log.read_text(errors="replace"):
            if time.monotonic() > deadline or any(p.poll() is not None for p, _ in self._processes):
                raise RuntimeError(f"{log.name} did not say {line!r}:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    def backfill(self, job: str, partitions: list[str]) -> str:
        """Launch Dagster's backfill of `partitions` of `job` (one run per partition, each run's
        steps on the workers); return its id."""
        tag = uuid.uuid4().hex[:12]
        subprocess.run(
            [str(BIN / "dagster"), "job", "backfill", "-w", str(self.workspace), "-j", job,
             "--partitions", ",".join(partitions), "--tags", json.dumps({"test/batch": tag}),
             "--noprompt"],
            cwd=self.root,
            env=self.environ,
            check=True,
            capture_output=True,
        )  # fmt: skip
        return tag

    def instance(self) -> DagsterInstance:
        return DagsterInstance.from_config(str(self.home))

    def wait(self, batches: list[str], runs: int, timeout: float) -> list[DagsterRun]:
        """The runs of the given backfills, once all `runs` of them have finished.

        Raises:
            TimeoutError: they did not finish within `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with self.instance() as instance:
            while True:
                found = [
                    run
                    for batch in batches
                    for run in instance.get_runs(RunsFilter(tags={"test/batch": batch}))
                ]
                if len(found) == runs and all(run.status in _FINISHED for run in found):
                    return found
                if time.monotonic() > deadline:
                    states = sorted(str(run.status) for run in found)
                    raise TimeoutError(f"{len(found)} of {runs} runs after {timeout}s: {states}")
                time.sleep(0.5)

    def steps_per_worker(self) -> dict[str, int]:
        """Steps each worker executed, read from its log."""
        return {
            log.stem: log.read_text(errors="replace").count("] Task execute_plan[")
            // 2  # each step is logged as received, then as succeeded or failed
            for _, log in self._processes
            if log.stem.startswith("worker")
        }

    def close(self) -> None:
        """Stop every process this deployment started (its whole session) and drop its queue."""
        for process, _ in self._processes:
            _signal_session(process, signal.SIGTERM)
        for process, _ in self._processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_session(process, signal.SIGKILL)
                process.wait()
        self._delete_queue()

    def _delete_queue(self) -> None:
        from kombu import Connection

        try:
            with Connection(BROKER_URL, connect_timeout=5) as connection:
                connection.default_channel.queue_delete(self.queue)
        except Exception:  # a queue never declared, or the broker gone: nothing to clean
            pass


def _signal_session(process: subprocess.Popen, signal_number: int) -> None:
    """Signal the process and its children (its session), even if it has itself ended."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal_number)
