"""Benchmark inputs: landing zones holding a given number of transactions, from generate/."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from generate import generate

# Transactions per day of drops, by shape: every size has files of about the same size (a day's
# 24 hourly files). The feed's own shape: an hour of about 13.5 transactions (the shared sample
# has 13.5); large files: 100,000 a day, a day being one batch of the growth measurement.
SHAPES = {"feed": 324, "large": 100_000}
PER_DAY = SHAPES["large"]
_MANIFEST = "bench-input.json"


@dataclass(frozen=True)
class Input:
    """A generated landing zone: where it is and what it holds (transactions only are loaded)."""

    size: int
    path: Path
    transactions: int
    files: int
    days: list[str]
    megabytes: float

    def as_dict(self) -> dict:
        return {**asdict(self), "path": str(self.path)}


def prepare(root: Path, size: int, per_day: int = PER_DAY) -> Input:
    """The landing zone of about `size` transactions under `root`, generated unless already there.

    Drops are written as the feed sends them (gzipped JSON lines, hourly partitions), without
    the deliberate defects, so that every loader loads every record.
    """
    days = max(1, round(size / per_day))
    per_hour = math.ceil(size / (days * 24))
    path = root / f"transactions-{size}-{per_day}-a-day"
    manifest = path / _MANIFEST
    wanted = {"days": days, "transactions_per_hour": per_hour}
    if manifest.exists():
        recorded = json.loads(manifest.read_text())
        if recorded["generated_with"] == wanted:
            return Input(**{**recorded["input"], "path": path})
    shutil.rmtree(path, ignore_errors=True)
    report = generate(
        path, days=days, transactions_per_hour=per_hour, defects=False, compresslevel=1
    )
    transaction_files = sorted(path.glob("date=*/hour=*/transactions.json.gz"))
    prepared = Input(
        size=size,
        path=path,
        transactions=report.records["transactions"],
        files=len(transaction_files),
        days=sorted({p.parent.parent.name.removeprefix("date=") for p in transaction_files}),
        megabytes=round(sum(p.stat().st_size for p in transaction_files) / 2**20, 1),
    )
    input_fields = {k: v for k, v in prepared.as_dict().items() if k != "path"}
    manifest.write_text(json.dumps({"generated_with": wanted, "input": input_fields}, indent=2))
    return prepared
