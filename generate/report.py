"""The generation report: what was written per dataset, and every defect put in on purpose."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATASETS = ("customers", "transactions", "products", "erasure-requests")


def _counters() -> dict[str, Counter[str]]:
    return {dataset: Counter() for dataset in DATASETS}


def _zeros() -> dict[str, int]:
    return dict.fromkeys(DATASETS, 0)


@dataclass
class GenerationReport:
    """What `generate` wrote, per dataset, with every quirk and breakage it put in on purpose.

    `records` counts the lines a reader gets back from the files, broken lines included; lines
    written into a file that cannot be read whole, and lost with it, are in `lost_records`.
    `broken` counts lines that must be rejected, by kind; `broken_files` counts unreadable files
    by kind and `broken_paths` names them. `quirks` counts valid records showing one of the
    feed's known defects (duplicates, orphans, missing e-mails...); `updates` counts records
    re-sent later with a newer version; `distinct` counts distinct keys among valid records
    (customer id, sku, transaction id, customer id of an erasure request).
    """

    out: Path
    seed: int
    defects: bool
    files: dict[str, int] = field(default_factory=_zeros)
    records: dict[str, int] = field(default_factory=_zeros)
    lost_records: dict[str, int] = field(default_factory=_zeros)
    distinct: dict[str, int] = field(default_factory=_zeros)
    updates: dict[str, int] = field(default_factory=_zeros)
    quirks: dict[str, Counter[str]] = field(default_factory=_counters)
    broken: dict[str, Counter[str]] = field(default_factory=_counters)
    broken_files: dict[str, Counter[str]] = field(default_factory=_counters)
    broken_paths: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> dict[str, int]:
        """Readable lines that are not broken, per dataset (duplicates included)."""
        return {d: self.records[d] - sum(self.broken[d].values()) for d in DATASETS}

    def count_file(self, dataset: str, written: int, readable: int) -> None:
        """A file of `dataset` holding `written` lines, of which a reader gets `readable` back."""
        self.files[dataset] += 1
        self.records[dataset] += readable
        self.lost_records[dataset] += written - readable

    def count_lost(self, dataset: str, lines: int) -> None:
        """Lines already counted as readable that a file, broken after writing, no longer gives."""
        self.records[dataset] -= lines
        self.lost_records[dataset] += lines

    def count_broken_file(self, path: Path, dataset: str, kind: str) -> None:
        """A file under `out` made unreadable on purpose."""
        self.broken_files[dataset][kind] += 1
        self.broken_paths[path.relative_to(self.out).as_posix()] = kind

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return {
            "out": str(self.out),
            "seed": self.seed,
            "defects": self.defects,
            "files": self.files,
            "records": self.records,
            "valid": self.valid,
            "lost_records": self.lost_records,
            "distinct": self.distinct,
            "updates": self.updates,
            "quirks": {d: dict(sorted(c.items())) for d, c in self.quirks.items()},
            "broken": {d: dict(sorted(c.items())) for d, c in self.broken.items()},
            "broken_files": {d: dict(sorted(c.items())) for d, c in self.broken_files.items()},
            "broken_paths": dict(sorted(self.broken_paths.items())),
        }

    def summary(self) -> str:
        """A few human-readable lines for the command line."""
        lines = [f"wrote {self.out} (seed {self.seed}, defects {'on' if self.defects else 'off'})"]
        for dataset in DATASETS:
            parts = [
                f"{self.files[dataset]} files",
                f"{self.records[dataset]} lines",
                f"{self.distinct[dataset]} distinct",
            ]
            if self.lost_records[dataset]:
                parts.append(f"{self.lost_records[dataset]} lost in broken files")
            broken = self.broken[dataset] + self.broken_files[dataset]
            if broken:
                parts.append("broken " + ", ".join(f"{k}={v}" for k, v in sorted(broken.items())))
            lines.append(f"  {dataset}: " + "; ".join(parts))
        return "\n".join(lines)
