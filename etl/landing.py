"""The landing zone: finding drops under date=YYYY-MM-DD/hour=HH/ and reading their lines."""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

DATASETS = ("products", "customers", "transactions", "erasure-requests")

_PARTITION_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/(?P<file>[^/]+)$")
_FILE_NAME = re.compile(r"^(?P<dataset>[a-z-]+)\.json(?P<gz>\.gz)?$")
_READ_CHUNK = 1 << 20
_UTF8_BOM = b"\xef\xbb\xbf"


class LandingFileError(Exception):
    """A landing file cannot be read whole (not gzip, truncated, unreadable)."""


@dataclass(frozen=True, order=True)
class LandingFile:
    """One drop in the landing zone.

    Ordering is by relative path, which is chronological: date, hour, then file name.
    """

    relative_path: str
    root: Path
    dataset: str
    partition_date: date
    partition_hour: int

    @property
    def path(self) -> Path:
        return self.root / self.relative_path

    @property
    def is_gzip(self) -> bool:
        return self.relative_path.endswith(".gz")

    @property
    def partition(self) -> str:
        """`YYYY-MM-DD-HH:00`, the key an hourly partition has in Dagster."""
        return f"{self.partition_date.isoformat()}-{self.partition_hour:02d}:00"


@dataclass(frozen=True)
class Line:
    """One physical line of a landing file; `number` counts from 1."""

    number: int
    raw: bytes


def parse_path(root: Path, path: Path) -> LandingFile | None:
    """The landing file at `path`, or None when its place or name is not a drop of a known dataset.

    Folders that only look like partitions (`date=2020-13-01`, `hour=24`) are not drops.
    """
    try:
        relative = path.relative_to(root).as_posix()
    except ValueError:
        return None
    match = _PARTITION_DIR.match(relative)
    if not match:
        return None
    name = _FILE_NAME.match(match.group("file"))
    if not name or name.group("dataset") not in DATASETS:
        return None
    try:
        day = date.fromisoformat(match.group(1))
    except ValueError:
        return None
    hour = int(match.group(2))
    if hour > 23:
        return None
    return LandingFile(relative, root, name.group("dataset"), day, hour)


def discover(
    root: Path,
    datasets: tuple[str, ...] = DATASETS,
    start: date | None = None,
    end: date | None = None,
) -> list[LandingFile]:
    """The drops of `datasets` under `root` with start <= date <= end, in chronological order.

    Symbolic links are followed only when they stay inside the landing zone.
    """
    root = root.resolve()
    found = []
    for path in root.glob("date=*/hour=*/*.json*"):
        if not path.is_file() or not path.resolve().is_relative_to(root):
            continue
        landing_file = parse_path(root, path)
        if landing_file is None or landing_file.dataset not in datasets:
            continue
        if start and landing_file.partition_date < start:
            continue
        if end and landing_file.partition_date > end:
            continue
        found.append(landing_file)
    return sorted(found)


def checksum(path: Path) -> str:
    """SHA-256 of the file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_lines(landing_file: LandingFile) -> Iterator[Line]:
    """Stream the non-blank lines of a landing file, without their line endings.

    Raises:
        LandingFileError: the file is not valid gzip or ends early. Lines already yielded were
            read correctly; the caller decides what a half-read file means.
    """
    opener = gzip.open if landing_file.is_gzip else open
    try:
        with opener(landing_file.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number == 1 and raw.startswith(_UTF8_BOM):
                    raw = raw[len(_UTF8_BOM) :]
                raw = raw.rstrip(b"\r\n")
                if raw.strip():
                    yield Line(number, raw)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise LandingFileError(f"{landing_file.relative_path}: {_describe(error)}") from error
    except OSError as error:
        raise LandingFileError(f"{landing_file.relative_path}: cannot read: {error}") from error


def _describe(error: Exception) -> str:
    if isinstance(error, EOFError):
        return "gzip stream ends early (truncated file)"
    if isinstance(error, gzip.BadGzipFile):
        return f"not a gzip file ({error})"
    return f"corrupt gzip data ({error})"
