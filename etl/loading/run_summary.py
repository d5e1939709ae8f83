"""What a run did: totals per dataset (and per landing folder when asked), and its failures."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from etl.loading.load_log import FileLoad, LoadStatus
from etl.source import landing


@dataclass
class DatasetSummary:
    """Totals of one dataset's files in a run (no per-file state: memory stays flat)."""

    files: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)

    def add(self, load: FileLoad) -> None:
        self.files[load.status] += 1
        self.records.update(
            read=load.read,
            loaded=load.loaded,
            duplicate=load.duplicate,
            quarantined=load.quarantined,
            erased=load.erased,
            scrubbed=load.scrubbed,
            orphans=load.orphans,
        )


@dataclass
class RunSummary:
    """What a run did, per dataset, and the files that failed."""

    datasets: dict[str, DatasetSummary] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    # why the run stopped before its last file (the database stayed out of reach), if it did
    aborted: str | None = None
    # files in the landing zone that are not drops: not loaded, and shown so nobody misses them
    unrecognised: list[landing.UnrecognisedFile] = field(default_factory=list)
    # totals per landing folder, (dataset, date, hour), when the run was asked to keep them
    folders: dict[tuple[str, date, int], DatasetSummary] | None = None

    def add(self, load: FileLoad) -> None:
        landing_file = load.landing_file
        self.datasets.setdefault(landing_file.dataset, DatasetSummary()).add(load)
        if self.folders is not None:
            folder = (
                landing_file.dataset,
                landing_file.partition_date,
                landing_file.partition_hour,
            )
            self.folders.setdefault(folder, DatasetSummary()).add(load)
        if load.status == LoadStatus.FAILED:
            self.failures.append(f"{load.landing_file.relative_path}: {load.error}")

    @property
    def ok(self) -> bool:
        return not self.failures and self.aborted is None

    def render(self) -> str:
        lines = []
        for name, summary in self.datasets.items():
            files = ", ".join(f"{n} {status}" for status, n in sorted(summary.files.items()))
            r = summary.records
            lines.append(
                f"{name}: files {files}; records read {r['read']}, loaded {r['loaded']}, "
                f"duplicate {r['duplicate']}, quarantined {r['quarantined']}, "
                f"erased {r['erased']}, scrubbed {r['scrubbed']}, orphans {r['orphans']}"
            )
        lines.extend(f"FAILED {failure}" for failure in self.failures)
        lines.extend(
            f"NOT LOADED {entry.relative_path}: {entry.reason}" for entry in self.unrecognised
        )
        if self.aborted:
            lines.append(f"ABORTED {self.aborted}")
        return "\n".join(lines) or "no landing files matched"
