"""Product performance over a date range, sales per category, and catalogue price changes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.filters import DateRange, Text
from api.paging import Page, PageQuery, RangePageQuery, fetch_page

router = APIRouter(prefix="/products", tags=["products"])

# Names and categories are the current catalogue's (warehouse.products); a sku sold but in no
# catalogue has neither.
_SALES_IN_RANGE = """
    FROM marts.product_daily_sales s
    LEFT JOIN warehouse.products p ON p.sku = s.sku
    WHERE (%(start)s::date IS NULL OR s.sales_date >= %(start)s)
      AND (%(end)s::date IS NULL OR s.sales_date <= %(end)s)
"""


class ProductQuery(DateRange, PageQuery):
    category: Text | None = Field(None, description="Only products of this category.")
    sort: Literal["revenue", "units", "orders"] = Field(
        "revenue", description="Measure to rank by, highest first."
    )


class ProductSales(BaseModel):
    sku: int
    name: str | None
    category: str | None
    current_price: Decimal | None
    orders: int = Field(description="Transactions that bought the product.")
    units: int
    revenue: Decimal


@router.get("", response_model=Page[ProductSales])
async def product_sales(request: Request, query: Annotated[ProductQuery, Query()]) -> dict:
    """Products ranked by revenue, units or orders over start..end."""
    # query.sort is one of three column names (a Literal): safe in the SQL text
    sql = f"""
        SELECT s.sku, p.name, p.category, p.price AS current_price, sum(s.orders) AS orders,
               sum(s.units) AS units, sum(s.revenue) AS revenue
        {_SALES_IN_RANGE}
          AND (%(category)s::text IS NULL OR p.category = %(category)s)
        GROUP BY s.sku, p.name, p.category, p.price
        ORDER BY {query.sort} DESC, s.sku
    """
    return await fetch_page(request, sql, query.model_dump(), query)


class CategorySales(BaseModel):
    category: str | None = Field(description="null: skus in no catalogue.")
    products_sold: int
    units: int
    revenue: Decimal


@router.get("/categories", response_model=Page[CategorySales])
async def category_sales(request: Request, query: Annotated[RangePageQuery, Query()]) -> dict:
    """Sales per product category over start..end, highest revenue first."""
    sql = f"""
        SELECT p.category, count(DISTINCT s.sku) AS products_sold, sum(s.units) AS units,
               sum(s.revenue) AS revenue
        {_SALES_IN_RANGE}
        GROUP BY p.category
        ORDER BY revenue DESC, p.category NULLS LAST
    """
    return await fetch_page(request, sql, query.model_dump(), query)


# warehouse.products.sku is an integer, as the feed's schema says (schemas/products.schema.json).
MAX_SKU = 2**31 - 1


class PriceChangeQuery(DateRange, PageQuery):
    sku: int | None = Field(None, ge=1, le=MAX_SKU, description="Only this product.")


class PriceChange(BaseModel):
    sku: int
    name: str | None
    category: str | None
    catalogue_date: date = Field(description="The catalogue with the new price.")
    previous_catalogue_date: date
    previous_price: Decimal
    price: Decimal
    change: Decimal


@router.get("/price-changes", response_model=Page[PriceChange])
async def price_changes(request: Request, query: Annotated[PriceChangeQuery, Query()]) -> dict:
    """Catalogue price changes whose new price applies from a day in start..end."""
    sql = """
        SELECT c.sku, p.name, p.category, c.catalogue_date, c.previous_catalogue_date,
               c.previous_price, c.price, c.change
        FROM marts.product_price_changes c
        LEFT JOIN warehouse.products p ON p.sku = c.sku
        WHERE (%(start)s::date IS NULL OR c.catalogue_date >= %(start)s)
          AND (%(end)s::date IS NULL OR c.catalogue_date <= %(end)s)
          AND (%(sku)s::integer IS NULL OR c.sku = %(sku)s)
        ORDER BY c.catalogue_date, c.sku
    """
    return await fetch_page(request, sql, query.model_dump(), query)
