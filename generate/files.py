"""Writing a landing-zone file: JSON lines, gzipped when its name ends in .gz, reproducibly."""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Lines joined per write: few enough to keep memory flat, enough to keep writes cheap.
_BATCH_LINES = 4096


def write_lines(path: Path, lines: Iterable[str], compresslevel: int) -> int:
    """Write `lines` to `path`, creating its folder, and return how many were written.

    The gzip header has no file name and time 0, so the same lines give the same bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("wb") as raw:
        handle: Any = raw
        if path.suffix == ".gz":
            handle = gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=compresslevel, mtime=0
            )
        with handle:
            batch: list[str] = []
            for line in lines:
                batch.append(line)
                if len(batch) == _BATCH_LINES:
                    handle.write(("\n".join(batch) + "\n").encode())
                    written += len(batch)
                    batch.clear()
            if batch:
                handle.write(("\n".join(batch) + "\n").encode())
                written += len(batch)
    return written
