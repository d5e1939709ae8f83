"""Sales per day and per hour: orders, purchased lines, units, revenue, customers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.paging import Page, RangePageQuery, fetch_page

router = APIRouter(prefix="/sales", tags=["sales"])


class DailySales(BaseModel):
    sales_date: date
    orders: int
    items: int = Field(description="Purchased lines (a product in a transaction).")
    units: int
    revenue: Decimal
    customers: int = Field(description="Distinct customers (pseudonyms) who ordered that day.")
    average_order_value: Decimal


class HourlySales(BaseModel):
    sales_date: date
    sales_hour: int = Field(description="Hour of the day, 0-23, in the feed's local time.")
    orders: int
    items: int
    units: int
    revenue: Decimal
    customers: int = Field(description="Distinct customers (pseudonyms) who ordered that hour.")
    average_order_value: Decimal


_RANGE = """
    WHERE (%(start)s::date IS NULL OR sales_date >= %(start)s)
      AND (%(end)s::date IS NULL OR sales_date <= %(end)s)
"""


@router.get("/daily", response_model=Page[DailySales])
async def daily_sales(request: Request, query: Annotated[RangePageQuery, Query()]) -> dict:
    """Sales per day, oldest first."""
    sql = f"SELECT * FROM marts.daily_sales {_RANGE} ORDER BY sales_date"
    return await fetch_page(request, sql, query.model_dump(), query)


@router.get("/hourly", response_model=Page[HourlySales])
async def hourly_sales(request: Request, query: Annotated[RangePageQuery, Query()]) -> dict:
    """Sales per hour, oldest first; hours without an order are absent."""
    sql = f"SELECT * FROM marts.hourly_sales {_RANGE} ORDER BY sales_date, sales_hour"
    return await fetch_page(request, sql, query.model_dump(), query)
