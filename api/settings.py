"""The API's settings, from the environment: its bearer token and the database it reads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from etl.settings import SettingsError

TOKEN_ENV = "WAREHOUSE_API_TOKEN"
DATABASE_URL_ENV = "WAREHOUSE_API_DATABASE_URL"
# In production a token must be long enough not to be guessed.
PRODUCTION_TOKEN_LENGTH = 32


@dataclass(frozen=True)
class ApiSettings:
    """What the API needs to serve requests.

    Attributes:
        token: the bearer token every request under /v1 must present.
        database_url: libpq URL of the warehouse as the analyst role, or None until `warehouse-api`
            derives it from DATABASE_URL or the embedded server.
        database_timeout: seconds a request waits for a database connection before a 503.
        pool_size: most connections one server process opens.
    """

    token: str
    database_url: str | None
    database_timeout: float = 5.0
    pool_size: int = 8

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        """Read the settings; a missing token (or a short one in production) is an error."""
        env = os.environ if environ is None else environ
        token = env.get(TOKEN_ENV, "").strip()
        if not token:
            raise SettingsError(
                f"{TOKEN_ENV} is not set: the API answers only requests that present it as a "
                f"bearer token (locally, any value: {TOKEN_ENV}=local-dev-api-token)"
            )
        production = env.get("WAREHOUSE_ENV", "development").strip().lower() == "production"
        if production and len(token) < PRODUCTION_TOKEN_LENGTH:
            raise SettingsError(
                f"{TOKEN_ENV} must be at least {PRODUCTION_TOKEN_LENGTH} characters in production"
            )
        try:
            timeout = float(env.get("WAREHOUSE_API_DATABASE_TIMEOUT") or 5)
            pool_size = int(env.get("WAREHOUSE_API_POOL_SIZE") or 8)
        except ValueError as error:
            raise SettingsError(f"bad API setting: {error}") from None
        return cls(
            token=token,
            database_url=env.get(DATABASE_URL_ENV) or None,
            database_timeout=timeout,
            pool_size=pool_size,
        )
