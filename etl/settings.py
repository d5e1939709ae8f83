"""Runtime settings from the environment; unset values fall back to local development defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCHEMAS_DIR = PROJECT_DIR / "schemas"
SQL_SCRIPTS_DIR = PROJECT_DIR / "sql-scripts"

# The key local runs and `.env` use when none is set. It is public, so production refuses it.
DEVELOPMENT_PSEUDONYM_KEY = "dev-only-insecure-key"


class SettingsError(RuntimeError):
    """The environment does not describe a runnable warehouse."""


@dataclass(frozen=True)
class Settings:
    """Where the warehouse lives and how it identifies people.

    Attributes:
        database_url: a libpq URL, or None to use the embedded PostgreSQL in `home`.
        home: local state directory (embedded database, caches); `.warehouse/` by default.
        raw_data_dir: the landing zone.
        pseudonym_key: HMAC key for customer pseudonyms.
        environment: `development` or `production`.
    """

    database_url: str | None
    home: Path
    raw_data_dir: Path
    pseudonym_key: bytes
    environment: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `environ` (default: the process environment)."""
        env = os.environ if environ is None else environ
        environment = env.get("WAREHOUSE_ENV", "development").strip().lower()
        key = env.get("WAREHOUSE_PSEUDONYM_KEY") or DEVELOPMENT_PSEUDONYM_KEY
        if environment == "production" and key == DEVELOPMENT_PSEUDONYM_KEY:
            raise SettingsError(
                "WAREHOUSE_ENV=production but WAREHOUSE_PSEUDONYM_KEY is unset or the public "
                "development key: set a secret key of at least 32 characters"
            )
        if environment == "production" and len(key) < 32:
            raise SettingsError(
                "WAREHOUSE_PSEUDONYM_KEY must be at least 32 characters in production"
            )
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            home=Path(env.get("WAREHOUSE_HOME") or PROJECT_DIR / ".warehouse").resolve(),
            raw_data_dir=Path(env.get("RAW_DATA_DIR") or PROJECT_DIR / "raw_data").resolve(),
            pseudonym_key=key.encode(),
            environment=environment,
        )
