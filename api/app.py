"""The FastAPI application: routes under /v1 behind a bearer token, /health, errors as JSON."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import PoolTimeout
from pydantic import BaseModel

from api import areas, customers, data_quality, products, sales
from api.database import connection_pool, fetch_all
from api.errors import (
    HEALTH_RESPONSES,
    V1_RESPONSES,
    database_unavailable,
    invalid_request,
    no_marts,
)
from api.filters import MAX_RANGE_DAYS
from api.paging import MAX_LIMIT, MAX_OFFSET
from api.settings import DATABASE_URL_ENV, ApiSettings

_bearer = HTTPBearer(auto_error=False, description="The value of WAREHOUSE_API_TOKEN.")


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Every /v1 request presents the token; compared in constant time."""
    expected = request.app.state.settings.token.encode()
    if credentials is None or not secrets.compare_digest(
        credentials.credentials.encode(), expected
    ):
        raise HTTPException(
            401,
            "missing or wrong bearer token: send Authorization: Bearer <WAREHOUSE_API_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The API, reading the database in `settings` (default: from the environment)."""
    settings = settings or ApiSettings.from_env()
    if not settings.database_url:
        raise RuntimeError(f"{DATABASE_URL_ENV} is not set (`warehouse-api` sets it)")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # wait=False: the API starts, and answers 503, while the database is down
        await app.state.pool.open(wait=False)
        yield
        await app.state.pool.close()

    app = FastAPI(
        title="Retail warehouse marts",
        version="1",
        summary="Read-only figures from the warehouse's marts. No personal data.",
        description=(
            "Every /v1 request needs `Authorization: Bearer <WAREHOUSE_API_TOKEN>` (else 401). "
            f"Dates are YYYY-MM-DD; `start` and `end` are inclusive, in order, and span at most "
            f"{MAX_RANGE_DAYS} days. Lists come in pages of `limit` 1-{MAX_LIMIT} rows "
            f"from `offset` 0-{MAX_OFFSET}: follow `next` until it is null. Money is a decimal "
            "string. A bad parameter gets a 422 whose `errors` name it; a warehouse database "
            "that is down or not migrated, a 503."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = connection_pool(
        settings.database_url, settings.pool_size, settings.database_timeout
    )
    for module in (sales, products, areas, customers, data_quality):
        app.include_router(
            module.router,
            prefix="/v1",
            dependencies=[Depends(require_token)],
            responses=V1_RESPONSES,
        )
    app.add_api_route(
        "/health", health, response_model=Health, tags=["health"], responses=HEALTH_RESPONSES
    )
    app.add_exception_handler(RequestValidationError, invalid_request)
    # A connection refused by its role check (api/database.py) also ends as a PoolTimeout.
    for error in (PoolTimeout, psycopg.OperationalError):
        app.add_exception_handler(error, database_unavailable)
    for error in (psycopg.errors.InvalidSchemaName, psycopg.errors.UndefinedTable):
        app.add_exception_handler(error, no_marts)
    return app


class Health(BaseModel):
    status: Literal["ok"]


async def health(request: Request) -> dict[str, str]:
    """200 when the API can query the warehouse, 503 when it cannot. Needs no token."""
    await fetch_all(request.app.state.pool, "SELECT 1", {})
    return {"status": "ok"}
