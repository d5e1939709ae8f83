"""The FastAPI application: routes under /v1 behind a bearer token, /health, errors as JSON."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import PoolTimeout

from api import areas, customers, data_quality, products, sales
from api.database import connection_pool, fetch_all
from api.settings import DATABASE_URL_ENV, ApiSettings

log = logging.getLogger(__name__)

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
            "Every /v1 request needs `Authorization: Bearer <WAREHOUSE_API_TOKEN>`. Dates are "
            "YYYY-MM-DD; `start` and `end` are inclusive. Lists come in pages: follow `next` "
            "until it is null. Money is a decimal string."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = connection_pool(
        settings.database_url, settings.pool_size, settings.database_timeout
    )
    for module in (sales, products, areas, customers, data_quality):
        app.include_router(module.router, prefix="/v1", dependencies=[Depends(require_token)])
    app.add_api_route("/health", health, tags=["health"])
    app.add_exception_handler(RequestValidationError, _invalid_request)
    # A connection refused by its role check (api/database.py) also ends as a PoolTimeout.
    for error in (PoolTimeout, psycopg.OperationalError):
        app.add_exception_handler(error, _database_unavailable)
    for error in (psycopg.errors.InvalidSchemaName, psycopg.errors.UndefinedTable):
        app.add_exception_handler(error, _no_marts)
    return app


async def health(request: Request) -> dict[str, str]:
    """200 when the API can query the warehouse, 503 when it cannot. Needs no token."""
    await fetch_all(request.app.state.pool, "SELECT 1", {})
    return {"status": "ok"}


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 naming each bad parameter and what is wrong with it."""
    problems = []
    for detail in error.errors():
        where = ".".join(str(part) for part in detail["loc"][1:]) or detail["loc"][0]
        if detail["type"] == "extra_forbidden":
            message = "unknown parameter"
        elif detail["type"] == "value_error":
            message = str(detail["ctx"]["error"])
        else:
            message = detail["msg"]
        problems.append({"parameter": where, "message": message})
    summary = "; ".join(f"{p['parameter']}: {p['message']}" for p in problems)
    return JSONResponse({"detail": summary, "errors": problems}, status_code=422)


async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    log.warning("database unavailable for %s: %s", request.url.path, error)
    return JSONResponse(
        {"detail": "the warehouse database is unavailable; try again shortly"},
        status_code=503,
        headers={"Retry-After": "10"},
    )


async def _no_marts(request: Request, error: Exception) -> JSONResponse:
    log.warning("marts missing for %s: %s", request.url.path, error)
    return JSONResponse(
        {"detail": "the warehouse has no marts yet: run `warehouse db migrate`"},
        status_code=503,
    )
