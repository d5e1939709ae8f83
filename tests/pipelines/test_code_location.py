"""The code location as deployed: a real `dagster api grpc` server, and a real webserver that
loads it through a workspace.yaml like ours and answers GraphQL."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from etl.settings import PROJECT_DIR

BIN = Path(sys.executable).parent
STARTUP_SECONDS = 90
QUERY = """
{
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        location { name }
        jobs { name }
        schedules { name cronSchedule executionTimezone }
        sensors { name }
      }
    }
    ... on PythonError { message }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(command: list[str], home: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=output, stderr=output)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[str]:
    """The URL of a webserver whose workspace is the repo's, pointed at a local gRPC server."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    grpc_port, web_port = _free_port(), _free_port()
    workspace = yaml.safe_load((PROJECT_DIR / "workspace.yaml").read_text())
    [entry] = workspace["load_from"]
    entry["grpc_server"].update(host="127.0.0.1", port=grpc_port)
    (tmp_path / "workspace.yaml").write_text(yaml.safe_dump(workspace))

    grpc = _start(
        [str(BIN / "dagster"), "api", "grpc", "-m", "pipelines.definitions",
         "-h", "127.0.0.1", "-p", str(grpc_port)],
        home,
        tmp_path / "grpc.log",
    )  # fmt: skip
    web = _start(
        [str(BIN / "dagster-webserver"), "-w", str(tmp_path / "workspace.yaml"),
         "-h", "127.0.0.1", "-p", str(web_port)],
        home,
        tmp_path / "webserver.log",
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{web_port}"
    finally:
        _stop(web)
        _stop(grpc)


def _repositories(url: str) -> dict:
    """The GraphQL answer once the webserver has loaded the code location."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            answer = httpx.post(f"{url}/graphql", json={"query": QUERY}, timeout=10).json()
            repositories = answer["data"]["repositoriesOrError"]
            if repositories.get("nodes"):
                return repositories
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            repositories = None
        if time.monotonic() > deadline:
            pytest.fail(
                f"no repository from the webserver after {STARTUP_SECONDS}s: {repositories}"
            )
        time.sleep(1)


def test_the_webserver_lists_every_job_of_the_grpc_code_location(webserver):
    [repository] = _repositories(webserver)["nodes"]

    assert repository["location"]["name"] == "warehouse"
    jobs = {job["name"] for job in repository["jobs"]}
    assert {"customers_job", "products_job", "transactions_job", "erasure_requests_job"} <= jobs
    schedules = {
        s["name"]: (s["cronSchedule"], s["executionTimezone"]) for s in repository["schedules"]
    }
    assert schedules["erasure_requests_daily"] == ("0 1 * * *", "Europe/Zagreb")
    sensors = {sensor["name"] for sensor in repository["sensors"]}
    assert sensors == {"landing_zone_sensor", "freshness_checks_sensor"}
