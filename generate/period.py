"""The generated days as hours numbered from 0 (the first day at 00:00), and their partitions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path


@dataclass(frozen=True)
class Period:
    """`days` days from `start`; plans address an hour by its number, `day * 24 + hour`."""

    start: date
    days: int

    @property
    def hours(self) -> int:
        return self.days * 24

    def day(self, hour: int) -> date:
        """The date an hour falls on."""
        return self.start + timedelta(days=hour // 24)

    def folder(self, out: Path, hour: int) -> Path:
        """The hour's partition under the landing-zone root `out`."""
        return out / f"date={self.day(hour).isoformat()}" / f"hour={hour % 24:02d}"
