"""Data quality per dataset and partition day: files and records read, loaded, rejected."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.filters import DateRange
from api.paging import Page, PageQuery, fetch_page
from etl.source.landing import DATASETS

router = APIRouter(prefix="/data-quality", tags=["data quality"])


class QualityQuery(DateRange, PageQuery):
    dataset: Literal[DATASETS] | None = Field(None, description="Only this dataset.")


class DataQuality(BaseModel):
    dataset: str
    partition_date: date
    files: int
    files_rejected: int = Field(description="Files that could not be read whole.")
    files_failed: int = Field(description="Files whose last load failed (retried next run).")
    records_read: int
    records_loaded: int
    records_duplicate: int
    records_quarantined: int
    records_erased: int
    orphans: int = Field(description="Transactions whose customer or a product was unknown.")


@router.get("", response_model=Page[DataQuality])
async def data_quality(request: Request, query: Annotated[QualityQuery, Query()]) -> dict:
    """Load figures per dataset and partition day, oldest first."""
    sql = """
        SELECT * FROM marts.data_quality
        WHERE (%(start)s::date IS NULL OR partition_date >= %(start)s)
          AND (%(end)s::date IS NULL OR partition_date <= %(end)s)
          AND (%(dataset)s::text IS NULL OR dataset = %(dataset)s)
        ORDER BY partition_date, dataset
    """
    return await fetch_page(request, sql, query.model_dump(), query)
