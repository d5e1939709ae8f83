"""The Dagster backfill benchmark: every hourly transactions partition of a month of hourly
files, backfilled as the UI launches one on `dagster dev`, against `warehouse run` on the same
files and against Dagster's floor (the same backfill of an asset that does nothing).

    python -m bench.dagster_backfill [--raw-data DIR] [--database-url URL] [--out DIR]

Without --raw-data the input is a generated month of the feed's real shape (an hour's file of
about 13 transactions). The requirement (issue 14): the backfill finishes within the floor plus
3 times the CLI's time, and leaves the warehouse the CLI leaves (table checksums). Writes
dagster_backfill.json and .md to bench/results/ (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.inputs import prepare
from bench.server import Server
from etl.settings import PROJECT_DIR
from etl.source import landing
from tests.conftest import table_checksums
from tests.dagster_dev import BIN, DagsterDev, hourly_keys

RESULTS_DIR = PROJECT_DIR / "bench" / "results"
KEY = "benchmark-pseudonym-key-not-a-secret-at-all"
TIMEZONE = "Europe/Zagreb"
# A month of the feed's hourly files, 13.5 transactions each (bench.inputs)
MONTH_TRANSACTIONS, PER_DAY = 10_044, 324
DATASET, ASSET, FLOOR_ASSET = "transactions", "transactions", "nothing_hourly"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw-data", type=Path, help="landing zone (default: a generated month)")
    parser.add_argument("--database-url", help="admin URL of a server (default: embedded)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where results go")
    parser.add_argument(
        "--repeats", type=int, default=2, help="backfills of each asset, interleaved (floor first)"
    )
    args = parser.parse_args()
    raw = args.raw_data or prepare(args.out / "inputs", MONTH_TRANSACTIONS, PER_DAY).path
    work = Path(tempfile.mkdtemp(prefix="bench-dagster-backfill-"))
    try:
        with Server(args.database_url) as server:
            results = measure(server, raw.resolve(), work, args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dagster_backfill.json").write_text(json.dumps(results, indent=2, default=str))
    report = markdown(results)
    (args.out / "dagster_backfill.md").write_text(report)
    print(report)
    if not results["within_bound"] or not results["same_warehouse"]:
        raise SystemExit(1)


def measure(server: Server, raw: Path, work: Path, repeats: int = 2) -> dict[str, Any]:
    """The CLI, then `repeats` backfills of the floor and of the project's asset, interleaved
    (floor, project, floor, project, ..., floor), on one server. The first of the project's
    backfills loads the files; the later ones find them unchanged, as any backfill of
    partitions loaded before does."""
    files = landing.discover(raw, (DATASET,))
    keys = hourly_keys(files[0].partition_date, files[-1].partition_date, TIMEZONE)
    results: dict[str, Any] = {
        "server": server.describe(),
        "landing_zone": str(raw),
        "files": len(files),
        "partitions": len(keys),
    }
    with (
        server.fresh_database(migrated=True) as cli_url,
        server.fresh_database(migrated=True) as dagster_url,
    ):
        results["cli_seconds"] = cli(cli_url, raw, work)
        environ = _environ(dagster_url, raw, files)
        with DagsterDev(
            work / "dagster", ["pipelines.definitions", "tests.dagster_floor"], environ
        ) as dagster:
            floors, projects = [dagster.backfill(FLOOR_ASSET, keys)], []
            for _ in range(repeats):
                projects.append(dagster.backfill(ASSET, keys))
                if not results.get("same_warehouse"):
                    results["same_warehouse"] = table_checksums(dagster_url) == table_checksums(
                        cli_url
                    )
                floors.append(dagster.backfill(FLOOR_ASSET, keys))
        results["floor"] = [vars(floor) for floor in floors]
        results["backfill"] = [vars(project) for project in projects]
    loading = projects[0]  # the backfill that loaded the files
    floor = _mean(f.seconds for f in floors)
    results["floor_seconds"] = floor
    results["floor_last_run_ended"] = _mean(f.last_run_ended for f in floors)
    results["bound_seconds"] = floor + 3 * results["cli_seconds"]
    results["within_bound"] = (
        all(p.status == "COMPLETED_SUCCESS" for p in projects)
        and loading.seconds <= results["bound_seconds"]
    )
    return results


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def cli(url: str, raw: Path, work: Path) -> float:
    """Seconds of the whole `warehouse run --dataset transactions` process, start-up included."""
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "warehouse"), "run", "--dataset", DATASET, "--raw-data", str(raw)],
        env={**os.environ, "DATABASE_URL": url, "WAREHOUSE_PSEUDONYM_KEY": KEY},
        cwd=work,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _environ(url: str, raw: Path, files: list[landing.LandingFile]) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "RAW_DATA_DIR": str(raw),
        "WAREHOUSE_PSEUDONYM_KEY": KEY,
        "WAREHOUSE_ENV": "bench",
        "WAREHOUSE_TIMEZONE": TIMEZONE,
        "WAREHOUSE_PARTITIONS_START": files[0].partition_date.isoformat(),
    }


def markdown(results: dict[str, Any]) -> str:
    rows = [
        f"| Dagster's floor {n} (an asset doing nothing) | {f['runs']} | {f['seconds']:.1f} | "
        f"{f['first_run_started']:.1f} | {f['last_run_ended']:.1f} | {f['run_seconds']:.1f} |"
        for n, f in enumerate(results["floor"], start=1)
    ] + [
        f"| The project's backfill {n}{' (loads the files)' if n == 1 else ' (files unchanged)'}"
        f" | {b['runs']} | {b['seconds']:.1f} | {b['first_run_started']:.1f} | "
        f"{b['last_run_ended']:.1f} | {b['run_seconds']:.1f} |"
        for n, b in enumerate(results["backfill"], start=1)
    ]
    return "\n".join(
        [
            f"Dagster backfill of {results['partitions']} hourly partitions "
            f"({results['files']} files) through `dagster dev`'s GraphQL, as the UI launches it. "
            f"`warehouse run --dataset transactions` on the same files (whole process): "
            f"{results['cli_seconds']:.1f} s.",
            "",
            "| Backfill | Runs | Launch to finished, s | First run started, s | Last run ended, s "
            "| Runs took, s |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            f"Floor (mean) {results['floor_seconds']:.1f} s; bound, floor + 3 × CLI: "
            f"{results['bound_seconds']:.1f} s.",
            "",
            f"Within the bound: {'yes' if results['within_bound'] else 'NO'}; "
            f"same warehouse as the CLI's: {'yes' if results['same_warehouse'] else 'NO'}.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
