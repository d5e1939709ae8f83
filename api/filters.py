"""Query parameters shared by the endpoints: an inclusive date range, validated; free text."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

# Longest start..end a request may ask for (a year, leap day included).
MAX_RANGE_DAYS = 366


def _iso_day(value: object) -> object:
    # Without this pydantic also takes "1577836800" (a Unix time) or "2020-01-01T10:00" as a day.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"{value!r} is not a date: use YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]

# A free-text filter. PostgreSQL text cannot hold a NUL character: one would fail in the database.
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]


class Strict(BaseModel):
    """Query parameters that reject names they do not know (a typo must not widen a filter)."""

    model_config = ConfigDict(extra="forbid")


_RULE = (
    f"With both: start <= end, and start..end spans at most {MAX_RANGE_DAYS} days, both "
    "counted (else 422)."
)


class DateRange(Strict):
    """start..end, both inclusive, both optional (an open end is unbounded)."""

    # The rule across the two cannot be said in JSON Schema: their descriptions say it.
    start: Day | None = Field(None, description=f"First day, inclusive (YYYY-MM-DD). {_RULE}")
    end: Day | None = Field(None, description=f"Last day, inclusive (YYYY-MM-DD). {_RULE}")

    @field_validator("end")
    @classmethod
    def _ordered_and_bounded(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start")
        if start and end:
            if start > end:
                raise ValueError(f"start {start} is after end {end}")
            days = (end - start).days + 1
            if days > MAX_RANGE_DAYS:
                raise ValueError(
                    f"start..end spans {days} days; ask for at most {MAX_RANGE_DAYS} at a time"
                )
        return end
