"""Pagination: limit and offset over a stable order, with a link to the next page."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi import Request
from pydantic import BaseModel, Field

from api.database import fetch_all
from api.filters import DateRange, Strict

MAX_LIMIT = 1000
# OFFSET takes a PostgreSQL bigint; a larger number would reach the database and fail there.
MAX_OFFSET = 2**63 - 1

Row = TypeVar("Row")


class PageQuery(Strict):
    limit: int = Field(100, ge=1, le=MAX_LIMIT, description="Rows per page.")
    offset: int = Field(
        0, ge=0, le=MAX_OFFSET, description="Rows to skip (follow `next` rather than counting)."
    )


class RangePageQuery(DateRange, PageQuery):
    """A date range and a page."""


class Page(BaseModel, Generic[Row]):
    """One page of rows; `next` is the URL of the following page, null on the last."""

    data: list[Row]
    limit: int
    offset: int
    next: str | None


async def fetch_page(
    request: Request, sql: str, params: dict[str, Any], page: PageQuery
) -> dict[str, Any]:
    """Run `sql` (which must end in an ORDER BY over unique columns, so that pages neither
    overlap nor skip) for one page, and link the next page if there is one."""
    rows = await fetch_all(
        request.app.state.pool,
        f"{sql} LIMIT %(page_limit)s OFFSET %(page_offset)s",
        {**params, "page_limit": page.limit + 1, "page_offset": page.offset},
    )
    following = None
    if len(rows) > page.limit:
        following = str(
            request.url.include_query_params(limit=page.limit, offset=page.offset + page.limit)
        )
    return {
        "data": rows[: page.limit],
        "limit": page.limit,
        "offset": page.offset,
        "next": following,
    }
