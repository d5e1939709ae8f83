"""`dagster dev` on this machine, driven the way its UI drives it: backfills launched with the
webserver's GraphQL `launchPartitionBackfill`, followed until the daemon says they finished.

Used by bench/dagster_backfill.py and tests/pipelines/test_backfill.py; tests/dagster_floor.py
is the code location of Dagster's floor.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
from dagster import HourlyPartitionsDefinition, PartitionKeyRange

from etl.settings import PROJECT_DIR

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 180
_FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

# What the UI sends when a range of partitions of an asset is backfilled from the asset's page.
_LAUNCH = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
_BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status runs(limit: 1000) { runId status creationTime startTime endTime }
    }
    ... on Error { message }
  }
}
"""
_LOCATIONS = """
{ workspaceOrError { __typename ... on Workspace {
    locationEntries { name loadStatus locationOrLoadError { __typename } } } } }
"""


@dataclass(frozen=True)
class Backfill:
    """A finished backfill: its status, how long it took from launch until the daemon marked it
    finished, its runs, and when (seconds after the launch) its first run started and its last
    ended, and how long its runs took together (start to end, each).

    The daemon looks at backfills every 30 seconds, so `seconds` moves in steps of up to 30 s;
    `last_run_ended` does not.
    """

    backfill_id: str
    status: str
    seconds: float
    runs: int
    runs_succeeded: int
    first_run_started: float
    last_run_ended: float
    run_seconds: float


class DagsterDev:
    """`dagster dev -m <module> ...` in `root` (its log, and its DAGSTER_HOME unless `home` is
    given), with `environ` added to this process's environment; stopped, with everything it
    started, on exit."""

    def __init__(
        self,
        root: Path,
        modules: Sequence[str],
        environ: Mapping[str, str],
        home: Path | None = None,
    ) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.home = home or root / "dagster_home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.modules = list(modules)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        self.log = root / "dagster_dev.log"
        self.environ = {
            **os.environ,
            **environ,
            "DAGSTER_HOME": str(self.home),
            # tests/ is not an installed package: the code servers find it from the project
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")])
            ),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> DagsterDev:
        command = [str(BIN / "dagster"), "dev", "-p", str(self.port), "-h", "127.0.0.1"]
        for module in self.modules:
            command += ["-m", module]
        with self.log.open("wb") as output:
            # Not in the project directory, whose .env (development defaults) it would read; a
            # session of its own, so that its webserver, daemon and code servers stop with it.
            self._process = subprocess.Popen(
                command,
                cwd=self.root,
                env=self.environ,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_loaded()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is None:
            return
        _signal_session(self._process, signal.SIGTERM)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _signal_session(self._process, signal.SIGKILL)
            self._process.wait()
        self._process = None

    def query(self, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(
            self.url, json={"query": query, "variables": variables or {}}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def _wait_until_loaded(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"dagster dev exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError, RuntimeError):
                entries = self.query(_LOCATIONS)["workspaceOrError"]["locationEntries"]
                statuses = [entry["locationOrLoadError"]["__typename"] for entry in entries]
                if len(entries) == len(self.modules) and all(
                    entry["loadStatus"] == "LOADED" for entry in entries
                ):
                    if any(status != "RepositoryLocation" for status in statuses):
                        raise RuntimeError(f"a code location failed to load: {entries}")
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"dagster dev not ready:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.5)

    def launch_backfill(self, asset: str, partitions: Sequence[str]) -> str:
        """Launch a backfill of `partitions` of `asset`, as the asset page's "Materialize" dialog
        does; return its id."""
        params = {
            "assetSelection": [{"path": [asset]}],
            "partitionNames": list(partitions),
            "fromFailure": False,
            "tags": [],
        }
        launched = self.query(_LAUNCH, {"backfillParams": params})["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill not launched: {launched}")
        return launched["backfillId"]

    def backfill(self, asset: str, partitions: Sequence[str], timeout: float = 1800) -> Backfill:
        """Backfill `partitions` of `asset` and wait until the daemon marks it finished."""
        started, launched_at = time.perf_counter(), time.time()
        backfill_id = self.launch_backfill(asset, partitions)
        deadline = time.monotonic() + timeout
        while True:
            found = self.query(_BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
            if found.get("status") in _FINISHED:
                seconds = time.perf_counter() - started
                runs = found["runs"]
                return Backfill(
                    backfill_id,
                    found["status"],
                    seconds,
                    len(runs),
                    sum(run["status"] == "SUCCESS" for run in runs),
                    min(run["startTime"] or launched_at for run in runs) - launched_at,
                    max(run["endTime"] or launched_at for run in runs) - launched_at,
                    sum((run["endTime"] or 0) - (run["startTime"] or 0) for run in runs),
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"backfill {backfill_id} not finished after {timeout} s: {found}"
                )
            time.sleep(0.25)


def hourly_keys(first: date, last: date, timezone: str) -> list[str]:
    """Every hourly partition key of the days first..last, in `timezone` (a day the clocks
    change has 23 or 25)."""
    partitions = HourlyPartitionsDefinition(f"{first.isoformat()}-00:00", timezone=timezone)
    return partitions.get_partition_keys_in_range(
        PartitionKeyRange(f"{first.isoformat()}-00:00", f"{last.isoformat()}-23:00")
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _signal_session(process: subprocess.Popen, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal_number)
