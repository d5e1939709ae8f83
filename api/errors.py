"""Error bodies (401, 422, 503): their models, the handlers that send them, their OpenAPI."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.filters import MAX_RANGE_DAYS

log = logging.getLogger(__name__)

# Seconds a client is asked to wait when the database is unreachable.
RETRY_AFTER = 10


class ErrorMessage(BaseModel):
    """The body of a 401 or a 503."""

    model_config = ConfigDict(extra="forbid")

    detail: str = Field(description="What went wrong, in a sentence.")


class ParameterError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameter: str = Field(description="The query parameter's name, e.g. offset.")
    message: str = Field(description="What is wrong with its value.")


class InvalidRequest(BaseModel):
    """The body of a 422: every bad parameter, and the same as one line in `detail`."""

    model_config = ConfigDict(extra="forbid")

    detail: str = Field(description="`parameter: message` of each error, joined by `; `.")
    errors: list[ParameterError] = Field(min_length=1)


_DATABASE_DOWN = {
    "model": ErrorMessage,
    "description": (
        "The warehouse database is unreachable (with `Retry-After`), or it has no marts yet."
    ),
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before trying again (database unreachable only).",
            "schema": {"type": "integer"},
        }
    },
}

# Declared on every /v1 operation. A 422 declared here also stands in for FastAPI's default one,
# whose body (HTTPValidationError) is not what _invalid_request sends.
V1_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorMessage,
        "description": "Missing or wrong bearer token.",
        "headers": {
            "WWW-Authenticate": {
                "description": "`Bearer`.",
                "required": True,
                "schema": {"type": "string"},
            }
        },
    },
    422: {
        "model": InvalidRequest,
        "description": (
            "A parameter is malformed, out of range or unknown, or start..end breaks its rule "
            f"(start after end, or more than {MAX_RANGE_DAYS} days); each error names the "
            "parameter."
        ),
    },
    503: _DATABASE_DOWN,
}
HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {503: _DATABASE_DOWN}


async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
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
        problems.append(ParameterError(parameter=where, message=message))
    body = InvalidRequest(
        detail="; ".join(f"{p.parameter}: {p.message}" for p in problems), errors=problems
    )
    return JSONResponse(body.model_dump(), status_code=422)


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    """503 with Retry-After: the database is down or refused the connection."""
    log.warning("database unavailable for %s: %s", request.url.path, error)
    body = ErrorMessage(detail="the warehouse database is unavailable; try again shortly")
    return JSONResponse(
        body.model_dump(), status_code=503, headers={"Retry-After": str(RETRY_AFTER)}
    )


async def no_marts(request: Request, error: Exception) -> JSONResponse:
    """503: the database answers but has not been migrated."""
    log.warning("marts missing for %s: %s", request.url.path, error)
    body = ErrorMessage(detail="the warehouse has no marts yet: run `warehouse db migrate`")
    return JSONResponse(body.model_dump(), status_code=503)
