"""Top delivery areas by revenue, and top home areas by customers (city or postcode district)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.filters import DateRange, Strict, Text
from api.paging import Page, PageQuery, fetch_page

router = APIRouter(prefix="/areas", tags=["areas"])

Level = Literal["city", "postcode_district"]


class AreaFilter(Strict):
    level: Level = Field(
        "city", description="city, or postcode_district (outward code / Eircode routing key)."
    )
    country: Text | None = Field(None, description="Only this country, e.g. United Kingdom.")


class RevenueQuery(AreaFilter, DateRange, PageQuery):
    pass


class AreaRevenue(BaseModel):
    country: str
    area: str | None = Field(description="The city or postcode district; null if unknown.")
    orders: int
    revenue: Decimal


@router.get("/revenue", response_model=Page[AreaRevenue])
async def revenue_by_area(request: Request, query: Annotated[RevenueQuery, Query()]) -> dict:
    """Delivery areas ranked by revenue over start..end."""
    column = query.level  # one of two column names (a Literal): safe in the SQL text
    sql = f"""
        SELECT country, {column} AS area, sum(orders) AS orders, sum(revenue) AS revenue
        FROM marts.area_daily_sales
        WHERE (%(start)s::date IS NULL OR sales_date >= %(start)s)
          AND (%(end)s::date IS NULL OR sales_date <= %(end)s)
          AND (%(country)s::text IS NULL OR country = %(country)s)
        GROUP BY country, {column}
        ORDER BY revenue DESC, country, area NULLS LAST
    """
    return await fetch_page(request, sql, query.model_dump(), query)


class CustomersQuery(AreaFilter, PageQuery):
    pass


class AreaCustomers(BaseModel):
    country: str
    area: str | None = Field(description="The city or postcode district; null if unknown.")
    customers: int


@router.get("/customers", response_model=Page[AreaCustomers])
async def customers_by_area(request: Request, query: Annotated[CustomersQuery, Query()]) -> dict:
    """Home areas ranked by the number of current customers living there (no date range: it is
    the customer base as it stands)."""
    column = query.level
    sql = f"""
        SELECT country, {column} AS area, sum(customers) AS customers
        FROM marts.customers_by_area
        WHERE %(country)s::text IS NULL OR country = %(country)s
        GROUP BY country, {column}
        ORDER BY customers DESC, country, area NULLS LAST
    """
    return await fetch_page(request, sql, query.model_dump(), query)
