"""The shipped sample is what the generator writes, and `python -m generate` runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from etl.settings import PROJECT_DIR
from generate import generate

RAW_DATA = PROJECT_DIR / "raw_data"
SMALL = ["--days", "1", "--customers-per-hour", "2", "--transactions-per-hour", "4"]


def partition_bytes(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.glob("date=*/**/*")
        if path.is_file()
    }


def test_shipped_sample_is_what_the_defaults_write(tmp_path: Path) -> None:
    # raw_data/README.md promises that its command gives these very bytes.
    generate(tmp_path)
    shipped = partition_bytes(RAW_DATA)
    assert shipped
    assert partition_bytes(tmp_path) == shipped


def test_python_dash_m_writes_and_refuses_to_mix_partitions(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "generate", "--out", str(tmp_path / "cli"), *SMALL]
    first = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "transactions: 24 files" in first.stdout
    generate(tmp_path / "api", days=1, customers_per_hour=2, transactions_per_hour=4)
    assert partition_bytes(tmp_path / "cli") == partition_bytes(tmp_path / "api")

    again = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True)
    assert again.returncode == 2
    assert "already holds date=... partitions" in again.stderr
