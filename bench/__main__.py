"""`python -m bench` (`make bench`): every loader, every size, at both file shapes, repeated and
interleaved, one server.

Two shapes of the same transactions: the feed's own (an hourly file of about 13 transactions:
100,000 transactions are about 7,400 files) and large files (about 4,200 transactions an hour,
100,000 a day). For each shape and size: generate the input (once; reused by later runs), then
`--repeats` rounds, each running every loader once in a fresh subprocess into a fresh database,
the order rotated each round so that drifts in the machine's load fall on every loader alike.
Then the growth check: the pipeline and bare COPY loading the largest large-file input one day
(batch) at a time, each into a warehouse of its own, one after the other.
"""

from __future__ import annotations

import os
import platform
import shlex
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import click
import psutil
import psycopg

from bench import report
from bench.inputs import SHAPES, Input, prepare
from bench.loaders import CAPPED, LIMIT, LOADERS, LoadOptions
from bench.measure import Measurement, measure
from bench.server import EMBEDDED_SETTINGS, Server
from etl.settings import PROJECT_DIR

DEFAULT_OUT = PROJECT_DIR / "bench" / "results"


def _shapes(ctx: click.Context, param: click.Parameter, value: str) -> dict[str, int]:
    try:
        shapes = {
            name.strip(): int(per_day.replace("_", ""))
            for name, per_day in (part.split("=") for part in value.split(","))
        }
    except ValueError:
        raise click.BadParameter(f"{value!r} is not NAME=TRANSACTIONS_PER_DAY,...") from None
    if not shapes or min(shapes.values()) < 1:
        raise click.BadParameter("a shape needs a positive number of transactions a day")
    return shapes


def _sizes(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in value.split(",")})
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers") from None
    if not sizes or sizes[0] < 1:
        raise click.BadParameter("sizes must be positive")
    return sizes


@click.command(help=__doc__)
@click.option(
    "--sizes",
    default="100000,1000000",
    show_default=True,
    callback=_sizes,
    help="Transactions per input, comma-separated.",
)
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="number of cores",
    help="Worker processes of the pipeline, bare COPY and dlt's normaliser.",
)
@click.option(
    "--loaders",
    default=",".join(LOADERS),
    show_default=True,
    help="Loaders to run, comma-separated.",
)
@click.option(
    "--database-url",
    envvar="BENCH_DATABASE_URL",
    help="Admin URL of the server to use (it must allow CREATE DATABASE). "
    "Default: an embedded PostgreSQL in a temporary directory.",
)
@click.option(
    "--server-setting",
    "server_settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="A setting of the embedded server (repeatable; replaces the defaults "
    f"{', '.join(f'{k}={v}' for k, v in EMBEDDED_SETTINGS.items())}; "
    "--server-setting default keeps PostgreSQL's own).",
)
@click.option(
    "--row-by-row-cap",
    type=float,
    default=20.0,
    show_default=True,
    help="Seconds each row-by-row loader runs before it stops and is extrapolated.",
)
@click.option(
    "--shapes",
    default=",".join(f"{name}={per_day}" for name, per_day in SHAPES.items()),
    show_default=True,
    callback=_shapes,
    help="File shapes, as transactions per day of generated drops (24 hourly files a day); "
    "a day of the last shape is a batch of the growth check.",
)
@click.option("--growth/--no-growth", default=True, show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Where results (and, under inputs/, the generated landing zones) go.",
)
def main(
    sizes: list[int],
    repeats: int,
    workers: int,
    loaders: str,
    database_url: str | None,
    server_settings: tuple[str, ...],
    row_by_row_cap: float,
    shapes: dict[str, int],
    growth: bool,
    out: Path,
) -> None:
    # `kill` stops the run like Ctrl-C: databases dropped, the embedded server stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    chosen = [name.strip() for name in loaders.split(",") if name.strip()]
    unknown = set(chosen) - set(LOADERS)
    if unknown:
        raise click.BadParameter(f"unknown loaders {sorted(unknown)}; known: {list(LOADERS)}")
    chosen = [name for name in LOADERS if name in chosen]
    caps = dict.fromkeys(CAPPED, row_by_row_cap)
    with Server(database_url, _settings(server_settings)) as server:
        described = server.describe()
        click.echo(f"server: {described}")
        results = {
            "command": _command_line(),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "server": described,
            "repeats": repeats,
            "workers": workers,
            "caps": caps,
            "dataset": "transactions (items and delivery addresses with them)",
            "sizes": [],
        }
        for shape, per_day in shapes.items():
            for size in sizes:
                prepared = prepare(out / "inputs", size, per_day)
                click.echo(
                    f"input ({shape}): {prepared.transactions:,} transactions in "
                    f"{prepared.files} files"
                )
                runs = _measure_size(server, prepared, chosen, repeats, workers, caps)
                results["sizes"].append({"shape": shape, **report.summarise_size(prepared, runs)})
        growing = [name for name in ("pipeline", LIMIT) if name in chosen]
        if growth and "pipeline" in chosen and len(prepared.days) > 1:
            batches = _growth(server, prepared, growing, workers)
            results["growth"] = report.summarise_growth(batches)
        elif growth:
            click.echo(
                "growth check skipped: it needs the pipeline among the loaders and a largest "
                f"input of two days or more (this one: {len(prepared.days)})"
            )
    paths = report.write(results, out)
    click.echo(paths["markdown"].read_text())
    click.echo("wrote " + ", ".join(str(path) for path in paths.values()))
    if not all(
        entry["rows_loaded_as_expected"]
        for size in results["sizes"]
        for entry in size["loaders"].values()
    ):
        raise click.ClickException("a loader did not load every transaction: see results.json")


def _measure_size(
    server: Server,
    prepared: Input,
    loaders: list[str],
    repeats: int,
    workers: int,
    caps: dict[str, float],
) -> dict[str, list[Measurement]]:
    """`repeats` rounds of every loader, each round starting one loader later (A B C, B C A...)."""
    runs: dict[str, list[Measurement]] = {name: [] for name in loaders}
    for round_ in range(repeats):
        shift = round_ % len(loaders)
        for loader in loaders[shift:] + loaders[:shift]:
            options = LoadOptions(workers=workers, cap_seconds=caps.get(loader))
            with server.fresh_database(migrated=loader != "dlt") as url:
                measurement = measure(loader, url, prepared.path, options)
                measurement = replace(measurement, rows_loaded=_rows_loaded(url, loader))
            runs[loader].append(measurement)
            click.echo(
                f"  {prepared.transactions:>9,} round {round_ + 1} {loader:<10} "
                f"{measurement.seconds:7.2f} s  {measurement.records / measurement.seconds:9,.0f}/s"
                f"  {measurement.peak_rss_mb:6.0f} MB"
                + ("  (capped)" if measurement.capped else "")
            )
    return runs


def _growth(server: Server, prepared: Input, loaders: list[str], workers: int) -> list[dict]:
    """Each loader loading the days of `prepared` in turn into a warehouse of its own.

    One loader after the other, each warehouse dropped before the next loader starts: two
    warehouses growing side by side share the server's buffers, and once the two together
    outgrow them (two warehouses of 1,000,000 transactions hold about 2 GB, the embedded
    server's shared_buffers) both slow down for a reason that is not their own size.

    Each batch starts right after a checkpoint, as an hourly load does on a server checkpointing
    every few minutes: it pays for the first change of every page it touches (a full-page image
    in the WAL), and no batch finds the previous one's writes still pending or a timed
    checkpoint in its middle.
    """
    batches = [
        {"batch": number, "day": day, "loaders": {}}
        for number, day in enumerate(prepared.days, start=1)
    ]
    for loader in loaders:
        with server.fresh_database(migrated=True) as url:
            for batch in batches:
                before = _rows_loaded(url, loader)
                checkpointed = server.checkpoint()
                options = LoadOptions(workers=workers, start=batch["day"], end=batch["day"])
                measurement = measure(loader, url, prepared.path, options)
                entry = batch["loaders"][loader] = {
                    "rows_before": before,
                    "records": measurement.records,
                    "seconds": round(measurement.seconds, 3),
                    "records_per_second": round(measurement.records / measurement.seconds),
                    "peak_rss_mb": measurement.peak_rss_mb,
                    "after_checkpoint": checkpointed,
                    "database_mb_after": _database_mb(url),
                }
                click.echo(
                    f"  growth batch {batch['batch']}: {loader} "
                    f"{entry['records_per_second']:,}/s after {before:,}"
                )
    return batches


def _settings(given: tuple[str, ...]) -> dict[str, str] | None:
    """--server-setting values as a dict: None for the defaults, {} for PostgreSQL's own."""
    if not given:
        return None
    if given == ("default",):
        return {}
    try:
        return dict(setting.split("=", 1) for setting in given)
    except ValueError:
        raise click.BadParameter("--server-setting takes NAME=VALUE") from None


def _database_mb(url: str) -> int:
    with psycopg.connect(url) as conn:
        return round(
            conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20
        )


def _rows_loaded(url: str, loader: str) -> int:
    table = "dlt_bench.transactions" if loader == "dlt" else "warehouse.transactions"
    with psycopg.connect(url) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _machine() -> dict[str, object]:
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30),
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
    }


def _command_line() -> str:
    return "python -m bench " + shlex.join(sys.argv[1:])


if __name__ == "__main__":
    main()
