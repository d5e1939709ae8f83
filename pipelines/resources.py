"""Resources: the warehouse database, the landing zone, the pseudonym key, the schema contract and
check thresholds.

Each resource holds the environment variables etl/settings.py reads, so a run builds the very
Settings `warehouse run` would (production still refuses the development key). Values reach the
resources through EnvVar only: the UI shows which variable, never its value.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from etl.database import connect, database_url
from etl.settings import SCHEMA_CONTRACT_VARIABLE, Settings, schema_contract_variable
from etl.source.landing import DATASETS


class WarehouseDatabase(ConfigurableResource):
    """The warehouse's PostgreSQL: `url`, or the embedded server kept in `home` when unset."""

    url: str | None = Field(default=None, description="libpq URL (DATABASE_URL)")
    home: str | None = Field(default=None, description="embedded server's home (WAREHOUSE_HOME)")

    def environ(self) -> dict[str, str | None]:
        return {"DATABASE_URL": self.url, "WAREHOUSE_HOME": self.home}

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """An autocommit connection, starting the embedded server first when there is no URL."""
        with connect(database_url(warehouse_settings(self)), autocommit=True) as conn:
            yield conn


class LandingZone(ConfigurableResource):
    """The directory of landing-zone drops."""

    raw_data_dir: str | None = Field(default=None, description="landing zone (RAW_DATA_DIR)")

    def environ(self) -> dict[str, str | None]:
        return {"RAW_DATA_DIR": self.raw_data_dir}


class PseudonymKey(ConfigurableResource):
    """The HMAC key of customer pseudonyms and the environment that decides which keys it takes."""

    key: str | None = Field(default=None, description="WAREHOUSE_PSEUDONYM_KEY")
    environment: str | None = Field(default=None, description="WAREHOUSE_ENV")

    def environ(self) -> dict[str, str | None]:
        return {"WAREHOUSE_PSEUDONYM_KEY": self.key, "WAREHOUSE_ENV": self.environment}


class SchemaContract(ConfigurableResource):
    """What a load does with a field a dataset's schema does not know (etl/source/schema_drift.py):
    `freeze` or `discard_value`, for every dataset and for any one of them."""

    every_dataset: str | None = Field(default=None, description=SCHEMA_CONTRACT_VARIABLE)
    products: str | None = Field(default=None, description=schema_contract_variable("products"))
    customers: str | None = Field(default=None, description=schema_contract_variable("customers"))
    transactions: str | None = Field(
        default=None, description=schema_contract_variable("transactions")
    )
    erasure_requests: str | None = Field(
        default=None, description=schema_contract_variable("erasure-requests")
    )

    def environ(self) -> dict[str, str | None]:
        return {
            SCHEMA_CONTRACT_VARIABLE: self.every_dataset,
            **{
                schema_contract_variable(dataset): getattr(self, dataset.replace("-", "_"))
                for dataset in DATASETS
            },
        }


class QualityThresholds(ConfigurableResource):
    """The highest shares the asset checks accept (0.05 = 5%)."""

    max_quarantine_rate: float = Field(
        default=0.05, description="quarantined records among records read"
    )
    max_orphan_rate: float = Field(
        default=0.05, description="transactions whose customer or a product is unknown"
    )


def warehouse_settings(
    *resources: WarehouseDatabase | LandingZone | PseudonymKey | SchemaContract,
) -> Settings:
    """The Settings the resources describe; what they leave unset takes etl's defaults."""
    environ = {}
    for resource in resources:
        environ.update({name: value for name, value in resource.environ().items() if value})
    return Settings.from_env(environ)


def _env(name: str) -> EnvVar | None:
    """The variable, when the code location's environment sets it (else etl's default)."""
    return EnvVar(name) if os.environ.get(name) else None


# Thresholds are not secrets, and EnvVar carries only strings and integers: read them as they are.
_THRESHOLD_VARIABLES = {
    "max_quarantine_rate": "WAREHOUSE_MAX_QUARANTINE_RATE",
    "max_orphan_rate": "WAREHOUSE_MAX_ORPHAN_RATE",
}


RESOURCES = {
    "database": WarehouseDatabase(url=_env("DATABASE_URL"), home=_env("WAREHOUSE_HOME")),
    "landing_zone": LandingZone(raw_data_dir=_env("RAW_DATA_DIR")),
    "pseudonym_key": PseudonymKey(
        key=_env("WAREHOUSE_PSEUDONYM_KEY"), environment=_env("WAREHOUSE_ENV")
    ),
    "schema_contract": SchemaContract(
        every_dataset=_env(SCHEMA_CONTRACT_VARIABLE),
        **{
            dataset.replace("-", "_"): _env(schema_contract_variable(dataset))
            for dataset in DATASETS
        },
    ),
    "quality_thresholds": QualityThresholds(
        **{
            field: float(os.environ[variable])
            for field, variable in _THRESHOLD_VARIABLES.items()
            if os.environ.get(variable)
        }
    ),
}
