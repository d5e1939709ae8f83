"""The landing-zone sensor: one run for each partition whose files arrived or changed.

The cursor is the newest file modification time handled ({"mtime_ns": ...}); a tick looks at
files modified after it. A run's key names the partition and the state of all its files, so a
partition launches one run per state, ever, even if the cursor is reset.
"""

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from etl.source import landing
from etl.source.landing import LandingFile
from pipelines.assets import DATASET_ASSETS
from pipelines.jobs import DATASET_JOBS
from pipelines.partitions import TIMEZONE, partition_key
from pipelines.resources import LandingZone, warehouse_settings

MINIMUM_INTERVAL_SECONDS = 60


@dataclass(frozen=True)
class _Drop:
    landing_file: LandingFile
    mtime_ns: int
    size: int


@sensor(
    jobs=list(DATASET_JOBS.values()),
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    # Off by default, like the schedules; its first tick asks for every partition on disk.
    default_status=DefaultSensorStatus.STOPPED,
)
def landing_zone_sensor(
    context: SensorEvaluationContext, landing_zone: LandingZone
) -> SensorResult:
    """Launches the dataset's job for each partition with a landing file new or changed since
    the last tick, once its partition exists (its hour is over, or its day has begun)."""
    since = json.loads(context.cursor)["mtime_ns"] if context.cursor else 0
    partitions: dict[tuple[str, str], list[_Drop]] = defaultdict(list)
    for drop in _drops(Path(warehouse_settings(landing_zone).raw_data_dir)):
        dataset = drop.landing_file.dataset
        key = partition_key(drop.landing_file, DATASET_ASSETS[dataset].partitions_def)
        partitions[dataset, key].append(drop)

    recent = datetime.now(ZoneInfo(TIMEZONE)).date() - timedelta(days=1)
    requests, waiting, held = [], [], []
    newest = since
    for (dataset, key), drops in sorted(partitions.items()):
        arrived = [drop.mtime_ns for drop in drops if drop.mtime_ns > since]
        if not arrived:
            continue
        if DATASET_ASSETS[dataset].partitions_def.has_partition_key(key):
            requests.append(
                RunRequest(
                    run_key=f"{dataset}:{key}:{_fingerprint(drops)}",
                    job_name=DATASET_JOBS[dataset].name,
                    partition_key=key,
                )
            )
        elif drops[0].landing_file.partition_date >= recent:
            # Looked at again next tick: the cursor stays below these files.
            waiting.append(f"{dataset} {key}")
            held.extend(arrived)
            continue
        else:
            context.log.warning(
                f"{dataset} {key}: not a partition (before the partitions' start date, or an "
                "hour a clock change skips); its files are not loaded"
            )
        newest = max(newest, *arrived)

    cursor = min(held) - 1 if held else newest
    skip_reason = None
    if not requests:
        skip_reason = (
            f"{len(waiting)} partition(s) not open yet: {', '.join(waiting[:5])}"
            if waiting
            else "no landing file arrived or changed since the last tick"
        )
    return SensorResult(
        run_requests=requests, skip_reason=skip_reason, cursor=json.dumps({"mtime_ns": cursor})
    )


def _drops(root: Path) -> list[_Drop]:
    drops = []
    for landing_file in landing.discover(root):
        stat = landing_file.path.stat()
        drops.append(_Drop(landing_file, stat.st_mtime_ns, stat.st_size))
    return drops


def _fingerprint(drops: list[_Drop]) -> str:
    """A short hash of the partition's files: their paths, modification times and sizes."""
    digest = hashlib.sha256()
    for drop in sorted(drops, key=lambda d: d.landing_file.relative_path):
        digest.update(f"{drop.landing_file.relative_path}\0{drop.mtime_ns}\0{drop.size}\n".encode())
    return digest.hexdigest()[:16]
