"""Customer segments and repeat purchases: per segment, and per customer pseudonym."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.filters import Text
from api.paging import Page, PageQuery, fetch_page

router = APIRouter(prefix="/customers", tags=["customers"])

_KNOWN = (
    "false for pseudonyms with orders but no customer record: erased customers (their orders "
    "stay under the pseudonym) and customers the feed never delivered"
)


class SegmentRepeatRate(BaseModel):
    segment: str | None = Field(description="null: no segment, or no customer record.")
    customer_known: bool = Field(description=_KNOWN)
    customers: int
    ordering_customers: int
    repeat_customers: int = Field(description="Customers with more than one order.")
    repeat_rate: Decimal | None = Field(description="repeat_customers / ordering_customers.")
    orders: int
    revenue: Decimal


@router.get("/segments", response_model=Page[SegmentRepeatRate])
async def segments(request: Request, query: Annotated[PageQuery, Query()]) -> dict:
    """Customers, repeat customers and repeat purchase rate per segment (all time)."""
    sql = """
        SELECT * FROM marts.segment_repeat_rates
        ORDER BY segment NULLS LAST, customer_known DESC
    """
    return await fetch_page(request, sql, {}, query)


class CustomerQuery(PageQuery):
    segment: Text | None = Field(None, description="Only customers of this segment.")
    repeat_customer: bool | None = Field(None, description="Only repeat (or one-off) customers.")


class CustomerSegment(BaseModel):
    customer_key: str = Field(description="The customer's pseudonym (keyed HMAC of the id).")
    segment: str | None
    customer_known: bool = Field(description=_KNOWN)
    first_order_date: date | None
    last_order_date: date | None
    orders: int
    revenue: Decimal
    repeat_customer: bool


@router.get("", response_model=Page[CustomerSegment])
async def customers(request: Request, query: Annotated[CustomerQuery, Query()]) -> dict:
    """Segment and orders per customer pseudonym, in pseudonym order."""
    sql = """
        SELECT * FROM marts.customer_segments
        WHERE (%(segment)s::text IS NULL OR segment = %(segment)s)
          AND (%(repeat_customer)s::boolean IS NULL OR repeat_customer = %(repeat_customer)s)
        ORDER BY customer_key
    """
    return await fetch_page(request, sql, query.model_dump(), query)
