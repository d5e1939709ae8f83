"""Run one loader in a fresh subprocess; measure its wall time and peak memory.

The parent starts `python -m bench.measure ...`, samples the resident memory of the child and
its worker processes, and reaps it with wait4 for its own peak. The child times only the load
(not interpreter start-up or imports) and prints the result as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from bench.loaders import LoadOptions, loader
from etl.settings import PROJECT_DIR

# How often the parent samples the memory of the loader's process tree.
_SAMPLE_SECONDS = 0.05


class LoaderFailed(RuntimeError):
    """A loader subprocess exited with an error."""


@dataclass(frozen=True)
class Measurement:
    """One timed load.

    Attributes:
        seconds: wall time of the load itself, in the subprocess.
        records: records the loader processed in that time (all of them unless capped).
        capped: the loader stopped at its time cap before loading everything.
        peak_rss_mb: peak of the summed resident memory of the loader and its workers (sampled).
        max_process_rss_mb: peak resident memory of the largest single process (from wait4).
        rows_loaded: transactions found in the database afterwards (set by the caller).
    """

    loader: str
    seconds: float
    records: int
    capped: bool
    peak_rss_mb: float
    max_process_rss_mb: float
    rows_loaded: int | None = None


def measure(loader: str, database_url: str, raw_data: Path, options: LoadOptions) -> Measurement:
    """Run `loader` on `raw_data` into `database_url` in a fresh subprocess and measure it."""
    command = [
        sys.executable, "-m", "bench.measure", loader, database_url, str(raw_data),
        "--workers", str(options.workers),
    ]  # fmt: skip
    if options.cap_seconds:
        command += ["--cap", str(options.cap_seconds)]
    if options.start:
        command += ["--start", options.start]
    if options.end:
        command += ["--end", options.end]
    env = {
        **os.environ,
        # dlt reads its configuration from the environment: no telemetry, same workers
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "NORMALIZE__WORKERS": str(options.workers),
    }
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        # bench/ is not an installed package: the subprocess finds it from the project directory
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=PROJECT_DIR)
        peak, status, usage = _watch(process.pid)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise LoaderFailed(f"{loader} failed:\n{err.read().decode(errors='replace')[-4000:]}")
        result = json.loads(out.read().decode().strip().splitlines()[-1])
    return Measurement(
        loader=loader,
        seconds=result["seconds"],
        records=result["records"],
        capped=result["capped"],
        peak_rss_mb=round(peak / 2**20, 1),
        # ru_maxrss is in kilobytes on Linux
        max_process_rss_mb=round(usage.ru_maxrss / 1024, 1),
    )


def _watch(pid: int) -> tuple[int, int, os.struct_rusage]:
    """Sample the process tree's memory until `pid` exits; return the peak, status and rusage."""
    peak = 0
    while True:
        reaped, status, usage = os.wait4(pid, os.WNOHANG)
        if reaped:
            return peak, status, usage
        peak = max(peak, _tree_rss(pid))
        time.sleep(_SAMPLE_SECONDS)


def _tree_rss(pid: int) -> int:
    try:
        process = psutil.Process(pid)
        processes = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for each in processes:
        try:
            total += each.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def main() -> None:
    """The subprocess: run one loader and print its result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("loader")
    parser.add_argument("database_url")
    parser.add_argument("raw_data", type=Path)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cap", type=float)
    parser.add_argument("--start")
    parser.add_argument("--end")
    args = parser.parse_args()
    options = LoadOptions(
        workers=args.workers, cap_seconds=args.cap, start=args.start, end=args.end
    )
    load = loader(args.loader)
    started = time.perf_counter()
    loaded = load(args.database_url, args.raw_data, options)
    seconds = time.perf_counter() - started
    print(json.dumps({**asdict(loaded), "seconds": seconds}))


if __name__ == "__main__":
    main()
