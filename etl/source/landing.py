"""The landing zone: finding drops under date=YYYY-MM-DD/hour=HH/ and reading their lines."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

DATASETS = ("products", "customers", "transactions", "erasure-requests")

# The longest line read as a record. A longer line is quarantined unparsed, and only its first
# OVERSIZE_PREVIEW_BYTES are kept, so reading never holds more than about one such line.
MAX_RECORD_BYTES = 1 << 20
OVERSIZE_PREVIEW_BYTES = 4096

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HOUR = re.compile(r"^\d{2}$")
_FILE_NAME = re.compile(r"^(?P<dataset>[a-z-]+)\.json(?P<gz>\.gz)?$")
_READ_CHUNK = 1 << 20
_UTF8_BOM = b"\xef\xbb\xbf"


class LandingFileError(Exception):
    """A landing file cannot be read whole (not gzip, truncated, unreadable)."""


@dataclass(frozen=True, order=True, slots=True)
class LandingFile:
    """One drop in the landing zone.

    Ordering is by relative path, which is chronological: date, hour, then file name. A run
    holds one per drop of the landing zone (74,000 for a million transactions in the feed's
    hourly files), so it keeps no more than its fields: slots, and no cached Path.
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
    """One physical line of a landing file; `number` counts from 1.

    `oversize` is the line's length in bytes when it is longer than MAX_RECORD_BYTES; `raw` then
    holds only its first OVERSIZE_PREVIEW_BYTES.
    """

    number: int
    raw: bytes
    oversize: int | None = None


@dataclass(frozen=True)
class UnrecognisedFile:
    """A file in the landing zone that is not a drop, and why; runs do not load it."""

    relative_path: str
    reason: str


def parse_path(root: Path, path: Path) -> LandingFile | None:
    """The landing file at `path`, or None when its place or name is not a drop of a known dataset.

    Folders that only look like partitions (`date=2020-13-01`, `hour=24`) are not drops.
    """
    try:
        relative = path.relative_to(root).as_posix()
    except ValueError:
        return None
    found = _parse_relative(root, relative)
    return found if isinstance(found, LandingFile) else None


@dataclass(frozen=True)
class Window:
    """The landing partitions from `first` to `last`, both included, as (date, hour) pairs;
    None leaves that end open. `Window()` is the whole landing zone."""

    first: tuple[date, int] | None = None
    last: tuple[date, int] | None = None

    @classmethod
    def of_days(cls, start: date | None = None, end: date | None = None) -> Window:
        """Every hour of the days start..end."""
        return cls((start, 0) if start else None, (end, 23) if end else None)

    def covers_day(self, day: date) -> bool:
        return (self.first is None or day >= self.first[0]) and (
            self.last is None or day <= self.last[0]
        )

    def covers(self, day: date, hour: int) -> bool:
        return (self.first is None or (day, hour) >= self.first) and (
            self.last is None or (day, hour) <= self.last
        )


EVERYTHING = Window()


@dataclass(frozen=True)
class Scan:
    """What one walk of the landing zone found: the drops, in chronological order, and every
    other file with the reason it is not one."""

    drops: list[LandingFile]
    unrecognised: list[UnrecognisedFile]


def scan(root: Path, datasets: tuple[str, ...] = DATASETS, window: Window = EVERYTHING) -> Scan:
    """Walk the landing zone once: the drops of `datasets` inside `window`, and the files that
    are not drops (of any dataset).

    Folders of days and hours outside the window are not entered, so a run of one partition
    reads two directories, not the whole history; what lies in them is not judged either.
    Hidden files (uploads in progress) are left out, and so are files at the top level that do
    not look like data (a README). Symbolic links are followed only when they stay inside the
    landing zone.
    """
    root = root.resolve()
    found = Scan([], [])
    _walk(root, str(root), "", 0, datasets, window, found)
    found.drops.sort()
    found.unrecognised.sort(key=lambda entry: entry.relative_path)
    return found


def discover(
    root: Path,
    datasets: tuple[str, ...] = DATASETS,
    start: date | None = None,
    end: date | None = None,
) -> list[LandingFile]:
    """The drops of `datasets` under `root` with start <= date <= end, in chronological order."""
    return scan(root, datasets, Window.of_days(start, end)).drops


def unrecognised(root: Path) -> list[UnrecognisedFile]:
    """Every file under `root` that is not a drop, with the reason (see `scan`)."""
    return scan(root).unrecognised


def _walk(
    root: Path,
    directory: str,
    prefix: str,
    depth: int,
    datasets: tuple[str, ...],
    window: Window,
    found: Scan,
) -> None:
    """Judge every entry of `directory` (`prefix` is its path under the root, with its slash),
    `depth` folders below the root, and enter its folders (date=, then hour=) that the window
    covers. Paths stay strings: a pathlib object per entry was a tenth of a run over the
    feed's small files."""
    with os.scandir(directory) as entries:
        listed = sorted(entries, key=lambda entry: entry.name)
    for entry in listed:
        if entry.name.startswith("."):
            continue
        relative = prefix + entry.name
        if entry.is_symlink():
            target = Path(entry.path).resolve()
            if not target.is_relative_to(root):
                found.unrecognised.append(
                    UnrecognisedFile(relative, "symbolic link leading out of the landing zone")
                )
                continue
            if not target.exists():
                found.unrecognised.append(UnrecognisedFile(relative, "broken symbolic link"))
                continue
        if entry.is_dir():
            if entry.is_symlink() and depth > 1:
                # followed only as a day's or an hour's folder, so that a link cannot loop
                found.unrecognised.append(
                    UnrecognisedFile(relative, "symbolic link to a folder below an hour's folder")
                )
                continue
            if _outside(window, depth, entry.name, os.path.basename(directory)):
                continue
            _walk(root, entry.path, relative + "/", depth + 1, datasets, window, found)
            continue
        if depth == 0 and ".json" not in entry.name:
            continue  # documentation beside the drops
        if not entry.is_file():
            found.unrecognised.append(UnrecognisedFile(relative, "not a regular file"))
            continue
        judged = _parse_relative(root, relative)
        if isinstance(judged, str):
            found.unrecognised.append(UnrecognisedFile(relative, judged))
        elif judged.dataset in datasets and window.covers(
            judged.partition_date, judged.partition_hour
        ):
            found.drops.append(judged)


def _outside(window: Window, depth: int, name: str, parent: str) -> bool:
    """Whether the folder `name` (in `parent`) is a day or an hour the window leaves out.
    Folders that are not valid days or hours are entered: their files are reported."""
    if depth == 0:
        day = _day(name)
        return day is not None and not window.covers_day(day)
    if depth == 1 and name.startswith("hour="):
        day, hour = _day(parent), name.removeprefix("hour=")
        if day is not None and _HOUR.match(hour) and int(hour) <= 23:
            return not window.covers(day, int(hour))
    return False


def _day(name: str) -> date | None:
    """The date of a `date=YYYY-MM-DD` folder name, or None."""
    text = name.removeprefix("date=")
    if text == name or not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_relative(root: Path, relative: str) -> LandingFile | str:
    """The drop a path relative to the landing zone names, or why it names none."""
    parts = relative.split("/")
    if len(parts) != 3 or not (parts[0].startswith("date=") and parts[1].startswith("hour=")):
        return "not in a date=YYYY-MM-DD/hour=HH/ folder"
    day_text, hour_text = parts[0].removeprefix("date="), parts[1].removeprefix("hour=")
    day = _day(parts[0])
    if day is None:
        return f"date={day_text} is not a date (YYYY-MM-DD)"
    if not _HOUR.match(hour_text) or int(hour_text) > 23:
        return f"hour={hour_text} is not an hour (00 to 23)"
    name = _FILE_NAME.match(parts[2])
    if not name:
        return f"{parts[2]} is not named <dataset>.json or <dataset>.json.gz"
    if name.group("dataset") not in DATASETS:
        return f"{name.group('dataset')} is not a dataset (known: {', '.join(DATASETS)})"
    return LandingFile(relative, root, name.group("dataset"), day, int(hour_text))


def checksum(path: Path) -> str:
    """SHA-256 of the file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_lines(landing_file: LandingFile) -> Iterator[Line]:
    """Stream the non-blank lines of a landing file, without their line endings (LF or CRLF)
    and without a UTF-8 byte-order mark at their start.

    RFC 8259 lets a parser ignore a byte-order mark. A Windows tool writes one at the start of
    a file, and files concatenated carry theirs to the start of lines inside it; a mark
    anywhere else in a line is left there (and the line is not JSON).

    A line longer than MAX_RECORD_BYTES comes as its first OVERSIZE_PREVIEW_BYTES and its
    length; its rest is skipped in chunks, never held whole.

    Raises:
        LandingFileError: the file is not valid gzip, ends early, or is a 0-byte `.gz` (not
            even an empty gzip stream: an upload that never started). Lines already yielded
            were read correctly; the caller decides what a half-read file means.
    """
    opener = gzip.open if landing_file.is_gzip else open
    try:
        if landing_file.is_gzip and landing_file.path.stat().st_size == 0:
            raise LandingFileError(
                f"{landing_file.relative_path}: empty file (0 bytes), not a gzip stream; "
                "an empty drop is a gzip of nothing (20 bytes)"
            )
        with opener(landing_file.path, "rb") as handle:
            number = 0
            # +2: room for the line's own \r\n after a record of the maximum size
            while raw := handle.readline(MAX_RECORD_BYTES + 2):
                number += 1
                whole = raw.endswith(b"\n") or len(raw) < MAX_RECORD_BYTES + 2
                rest = 0 if whole else _skip_rest_of_line(handle)
                if raw.startswith(_UTF8_BOM):
                    raw = raw[len(_UTF8_BOM) :]
                if whole:
                    raw = raw.rstrip(b"\r\n")
                    if not raw.strip():
                        continue
                length = len(raw) + rest
                if length <= MAX_RECORD_BYTES:
                    yield Line(number, raw)
                else:
                    yield Line(number, raw[:OVERSIZE_PREVIEW_BYTES], oversize=length)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise LandingFileError(f"{landing_file.relative_path}: {_describe(error)}") from error
    except OSError as error:
        raise LandingFileError(f"{landing_file.relative_path}: cannot read: {error}") from error


def _skip_rest_of_line(handle: BinaryIO) -> int:
    """Read past the end of the current line in bounded chunks; return the bytes skipped."""
    skipped = 0
    while chunk := handle.readline(_READ_CHUNK):
        if chunk.endswith(b"\n"):
            return skipped + len(chunk.rstrip(b"\r\n"))
        skipped += len(chunk)
    return skipped


def _describe(error: Exception) -> str:
    if isinstance(error, EOFError):
        return "gzip stream ends early (truncated file)"
    if isinstance(error, gzip.BadGzipFile):
        return f"not a gzip file ({error})"
    return f"corrupt gzip data ({error})"
