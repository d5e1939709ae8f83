"""Runtime settings from the environment; unset values fall back to local development defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from etl.encryption.crypto import EnvironmentMasterKey
from etl.source.landing import DATASETS

PROJECT_DIR = Path(__file__).resolve().parent.parent
SCHEMAS_DIR = PROJECT_DIR / "schemas"
SQL_SCRIPTS_DIR = PROJECT_DIR / "sql-scripts"

# The key local runs and `.env` use when none is set. It is public, so production refuses it.
DEVELOPMENT_PSEUDONYM_KEY = "dev-only-insecure-key"
# Likewise the master key that wraps customers' data keys (etl/encryption/crypto.py): public,
# refused in production.
DEVELOPMENT_MASTER_KEY = "ZGV2LW9ubHktaW5zZWN1cmUtbWFzdGVyLWtleS0zMmI="
MASTER_KEY_VARIABLE = "WAREHOUSE_MASTER_KEY"
KEYSTORE_URL_VARIABLE = "WAREHOUSE_KEYSTORE_URL"
# How long a quarantined line's payload stays readable (the GDPR's storage limitation): the key
# of a day's quarantine is destroyed this many days after that day.
QUARANTINE_RETENTION_VARIABLE = "WAREHOUSE_QUARANTINE_RETENTION_DAYS"
DEFAULT_QUARANTINE_RETENTION_DAYS = 30

# The time zone of the landing zone's dates and hours, in which partitions fall due (and the
# orchestrator's schedules run).
TIMEZONE_VARIABLE = "WAREHOUSE_TIMEZONE"
DEFAULT_TIMEZONE = "Europe/Zagreb"

# What a load does with a field its dataset's schema does not know (etl/source/schema_drift.py):
# `freeze` quarantines the record; `discard_value` loads it without the field, whose value is
# kept nowhere. Either way the drift is recorded. The default keeps a feed that gained a field
# loading (and the new value, perhaps personal data, out of the quarantine), while status,
# doctor and the asset check report the drift. WAREHOUSE_SCHEMA_CONTRACT sets it for every
# dataset, WAREHOUSE_SCHEMA_CONTRACT_<DATASET> (CUSTOMERS, ERASURE_REQUESTS...) for one.
FREEZE = "freeze"
DISCARD_VALUE = "discard_value"
SCHEMA_CONTRACTS = (FREEZE, DISCARD_VALUE)
DEFAULT_SCHEMA_CONTRACT = DISCARD_VALUE
SCHEMA_CONTRACT_VARIABLE = "WAREHOUSE_SCHEMA_CONTRACT"


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
        schema_contracts: each dataset's schema contract (FREEZE or DISCARD_VALUE).
        timezone: the time zone of the landing zone's dates and hours.
        master_key: the master key wrapping data keys (base64 or hex of 32 bytes).
        keystore_url: a libpq URL of the keystore, or None for the database beside the
            warehouse's (etl/encryption/keystore.py).
        quarantine_retention_days: days a quarantined payload stays readable.
    """

    database_url: str | None
    home: Path
    raw_data_dir: Path
    pseudonym_key: bytes
    environment: str
    schema_contracts: Mapping[str, str] = field(
        default_factory=lambda: dict.fromkeys(DATASETS, DEFAULT_SCHEMA_CONTRACT)
    )
    timezone: str = DEFAULT_TIMEZONE
    master_key: str = DEVELOPMENT_MASTER_KEY
    keystore_url: str | None = None
    quarantine_retention_days: int = DEFAULT_QUARANTINE_RETENTION_DAYS

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
        master_key = env.get(MASTER_KEY_VARIABLE) or DEVELOPMENT_MASTER_KEY
        if environment == "production" and master_key == DEVELOPMENT_MASTER_KEY:
            raise SettingsError(
                f"WAREHOUSE_ENV=production but {MASTER_KEY_VARIABLE} is unset or the public "
                "development key: set a secret key of 32 random bytes (base64 or hex)"
            )
        try:
            EnvironmentMasterKey.parse(master_key)
        except ValueError as error:
            raise SettingsError(f"{MASTER_KEY_VARIABLE}: {error}") from None
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            home=Path(env.get("WAREHOUSE_HOME") or PROJECT_DIR / ".warehouse").resolve(),
            raw_data_dir=Path(env.get("RAW_DATA_DIR") or PROJECT_DIR / "raw_data").resolve(),
            pseudonym_key=key.encode(),
            environment=environment,
            schema_contracts=schema_contracts(env),
            timezone=env.get(TIMEZONE_VARIABLE) or DEFAULT_TIMEZONE,
            master_key=master_key,
            keystore_url=env.get(KEYSTORE_URL_VARIABLE) or None,
            quarantine_retention_days=_retention_days(env),
        )

    @property
    def master(self) -> EnvironmentMasterKey:
        """The master key, ready to wrap and unwrap."""
        return EnvironmentMasterKey.parse(self.master_key)


def schema_contract_variable(dataset: str) -> str:
    """The variable that sets one dataset's contract: WAREHOUSE_SCHEMA_CONTRACT_ERASURE_REQUESTS."""
    return f"{SCHEMA_CONTRACT_VARIABLE}_{dataset.upper().replace('-', '_')}"


def schema_contracts(env: Mapping[str, str]) -> dict[str, str]:
    """Each dataset's contract: its own variable, else WAREHOUSE_SCHEMA_CONTRACT, else the
    default.

    Raises:
        SettingsError: a variable names no contract.
    """
    default = _contract(env, SCHEMA_CONTRACT_VARIABLE, DEFAULT_SCHEMA_CONTRACT)
    return {
        dataset: _contract(env, schema_contract_variable(dataset), default) for dataset in DATASETS
    }


def _retention_days(env: Mapping[str, str]) -> int:
    value = env.get(QUARANTINE_RETENTION_VARIABLE) or str(DEFAULT_QUARANTINE_RETENTION_DAYS)
    if not value.strip().isdigit():
        raise SettingsError(f"{QUARANTINE_RETENTION_VARIABLE}={value!r}: expected a number of days")
    return int(value)


def _contract(env: Mapping[str, str], variable: str, default: str) -> str:
    value = (env.get(variable) or default).strip().lower()
    if value not in SCHEMA_CONTRACTS:
        raise SettingsError(f"{variable}={value!r}: expected one of {', '.join(SCHEMA_CONTRACTS)}")
    return value
