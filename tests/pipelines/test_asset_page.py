"""The asset page in a real browser: headless Chromium on a real webserver shows a materialised
partition's table, its columns with their descriptions, and its row count."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from dagster import DagsterInstance, materialize

from tests.pipelines.conftest import ASSETS, resources

# No sandbox (the tests may run as root), no GPU, and nothing fetched but the page itself.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # time for the page's queries to come back and render, before the DOM is taken
    "--virtual-time-budget=20000",
    "--window-size=1600,1400",
]
ATTEMPTS = 3


@pytest.fixture
def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's package)")
        pytest.skip("chromium is not installed: apt-get install chromium")
    return found


def _browse(chromium: str, url: str, profile: Path, *output: str) -> str:
    """What Chromium writes to stdout for `url`, in a fresh profile."""
    shutil.rmtree(profile, ignore_errors=True)
    done = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *output, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def _text(dom: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


@pytest.fixture
def materialized(landing, database_url, tmp_path) -> None:
    """A partition of transactions materialised into the instance the webserver will show.
    Before the webserver starts: two processes creating the same SQLite storage at once can
    both stamp its schema."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with DagsterInstance.from_config(str(home)) as instance:
        result = materialize(
            [ASSETS["transactions"]],
            partition_key="2020-01-01-05:00",
            resources=resources(database_url, landing, tmp_path / "home"),
            instance=instance,
        )
    assert result.success


def test_the_asset_page_shows_the_tables_columns_and_row_count(
    chromium, materialized, webserver, tmp_path
):
    # The UI greets a first visit on 127.0.0.1 with a dialog over the page; as if dismissed.
    httpx.post(f"{webserver}/graphql", json={"query": "mutation { setNuxSeen }"}, timeout=10)
    page = f"{webserver}/assets/transactions"

    for _ in range(ATTEMPTS):
        text = _text(_browse(chromium, page, tmp_path / "profile", "--dump-dom"))
        if "Row count" in text and "Columns" in text:
            break

    assert "Storage warehouse.transactions" in text  # dagster/table_name
    # the columns, in the table's order, each with its type and comment (dagster/column_schema)
    assert "Column name Type Description transaction_id uuid non-nullable The source's" in text
    assert "delivery_postcode_district text District of the delivery postcode" in text
    assert re.search(r"Row count 2 ", text), text[:2000]  # T1 and T2 (dagster/row_count)

    screenshot = tmp_path / "asset-page.png"
    _browse(chromium, page, tmp_path / "profile", f"--screenshot={screenshot}")
    assert screenshot.read_bytes().startswith(b"\x89PNG")
