"""The generator's command line: `python -m generate --out DIR [options]`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from generate.landing_zone import (
    DEFAULT_COMPRESSLEVEL,
    DEFAULT_CUSTOMERS_PER_HOUR,
    DEFAULT_DAYS,
    DEFAULT_PRODUCTS,
    DEFAULT_SEED,
    DEFAULT_START_DATE,
    DEFAULT_TRANSACTIONS_PER_HOUR,
    generate,
)


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Landing-zone root to write date=YYYY-MM-DD/hour=HH/ partitions into.",
)
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True)
@click.option(
    "--start-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=DEFAULT_START_DATE.isoformat(),
    show_default=True,
)
@click.option("--days", type=click.IntRange(min=1), default=DEFAULT_DAYS, show_default=True)
@click.option(
    "--customers-per-hour",
    type=click.IntRange(min=1),
    default=DEFAULT_CUSTOMERS_PER_HOUR,
    show_default=True,
    help="Average new customers in an hour that has a customers file (about half do).",
)
@click.option(
    "--transactions-per-hour",
    type=click.IntRange(min=1),
    default=DEFAULT_TRANSACTIONS_PER_HOUR,
    show_default=True,
)
@click.option(
    "--products",
    type=click.IntRange(min=1),
    default=DEFAULT_PRODUCTS,
    show_default=True,
    help="Distinct products over all daily catalogues.",
)
@click.option(
    "--defects/--no-defects",
    default=True,
    show_default=True,
    help="Mix in the feed's quirks and counted broken lines and files.",
)
@click.option(
    "--compresslevel",
    type=click.IntRange(0, 9),
    default=DEFAULT_COMPRESSLEVEL,
    show_default=True,
    help="gzip level; 1 is much faster for benchmark volumes.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the generation report here as JSON.",
)
def main(
    out: Path,
    seed: int,
    start_date: datetime,
    days: int,
    customers_per_hour: int,
    transactions_per_hour: int,
    products: int,
    defects: bool,
    compresslevel: int,
    report_path: Path | None,
) -> None:
    """Generate a seeded, deterministic landing-zone sample in the source feed's format."""
    try:
        report = generate(
            out,
            seed=seed,
            start_date=start_date.date(),
            days=days,
            customers_per_hour=customers_per_hour,
            transactions_per_hour=transactions_per_hour,
            products=products,
            defects=defects,
            compresslevel=compresslevel,
        )
    except FileExistsError as error:
        raise click.UsageError(str(error)) from None
    if report_path is not None:
        report_path.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    click.echo(report.summary())
