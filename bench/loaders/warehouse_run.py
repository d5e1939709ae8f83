"""The project's pipeline as a user runs it: the whole `warehouse run --dataset transactions
--workers N` process, interpreter start-up, imports and migrations check included."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.loaders import DATASET, Loaded, LoadOptions


def load(database_url: str, raw_data: Path, options: LoadOptions) -> Loaded:
    """`warehouse run` in a process of its own; the records are those of the files it loads."""
    command = [
        str(Path(sys.executable).parent / "warehouse"), "run", "--dataset", DATASET,
        "--raw-data", str(raw_data), "--workers", str(options.workers),
    ]  # fmt: skip
    if options.start:
        command += ["--start", options.start]
    if options.end:
        command += ["--end", options.end]
    environ = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WAREHOUSE_PSEUDONYM_KEY": options.pseudonym_key.decode(),
        "WAREHOUSE_HOME": tempfile.mkdtemp(prefix="bench-warehouse-home-"),
    }
    completed = subprocess.run(command, env=environ, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"warehouse run failed:\n{completed.stdout}\n{completed.stderr}")
    # its summary: "transactions: files 744 loaded; records read 10036, loaded ..."
    read = re.search(rf"^{DATASET}: .*records read (\d+)", completed.stdout, re.MULTILINE)
    return Loaded(int(read.group(1)) if read else 0)
