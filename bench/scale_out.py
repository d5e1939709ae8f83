"""Scale-out benchmark: backfill throughput on 1 and 2 Celery workers, and the time to load a
file into an empty warehouse against one that already holds months of history.

    python -m bench.scale_out [--hours 8] [--transactions-per-file 1400] [--history-months 3]
                              [--history-transactions-per-month 300000] [--files 6]

Files hold 1,400 transactions by default: an hour of a retailer at 100 times the sample's volume
(the sample: about 10,000 transactions a month, 13 an hour). Needs RabbitMQ on 127.0.0.1:5672
for the workers part. Writes scale_out.json and scale_out.md to bench/results/ (or --out).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

from bench.server import Server
from etl.inspection import quality
from etl.loading.runner import run
from etl.settings import PROJECT_DIR, Settings
from etl.source.landing import Window
from tests import landing_zone as lz
from tests.dagster_dev import DagsterDev
from tests.local_deployment import LocalDeployment, broker_reachable

RESULTS_DIR = PROJECT_DIR / "bench" / "results"
KEY = b"benchmark-pseudonym-key-not-a-secret-at-all"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=int, default=8, help="hourly partitions backfilled")
    parser.add_argument("--transactions-per-file", type=int, default=1400)
    parser.add_argument("--history-months", type=int, default=3)
    parser.add_argument("--history-transactions-per-month", type=int, default=300_000)
    parser.add_argument("--files", type=int, default=6, help="files timed into each warehouse")
    parser.add_argument("--database-url", help="admin URL of a server (default: embedded)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where results go")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-scale-out-"))
    try:
        with Server(args.database_url) as server:
            results: dict[str, Any] = {
                "parameters": vars(args) | {"database_url": None, "out": str(args.out)},
                "server": server.describe(),
                "workers": _workers(server, work, args),
                "history": _history(server, work, args),
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale_out.json").write_text(json.dumps(results, indent=2, default=str))
    report = _markdown(results)
    (args.out / "scale_out.md").write_text(report)
    print(report)


def _settings(url: str, raw: Path, work: Path) -> Settings:
    return Settings(
        database_url=url,
        home=work / "home",
        raw_data_dir=raw,
        pseudonym_key=KEY,
        environment="bench",
    )


def _workers(server: Server, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The transactions of `hours` hourly partitions backfilled through Dagster on 1 and on 2
    workers (products and customers loaded first), and by `warehouse run` in one process."""
    raw = work / "workers_raw"
    lz.populate(
        raw, days=1, hours=args.hours, transactions_per_file=args.transactions_per_file, seed=1
    )
    partitions = [f"2020-01-01-{hour:02d}:00" for hour in range(args.hours)]
    records = args.hours * args.transactions_per_file
    measured: dict[str, Any] = {"partitions": len(partitions), "transactions": records}

    # Without Dagster, for comparison: `warehouse run` in one process, and with --workers 2.
    for processes in (1, 2):
        with server.fresh_database(migrated=True) as url:
            settings = _settings(url, raw, work)
            run(settings, ("products", "customers"), show_progress=False)
            started = time.perf_counter()
            summary = run(settings, ("transactions",), show_progress=False, workers=processes)
            assert summary.ok, summary.render()
            measured[f"warehouse_run_{processes}_seconds"] = time.perf_counter() - started

    if not broker_reachable():
        measured["skipped"] = "RabbitMQ is not running on 127.0.0.1:5672"
        return measured
    for workers in (1, 2):
        with server.fresh_database(migrated=True) as url:
            backfilled = measured[f"workers_{workers}"] = _backfill(
                url, raw, work, workers, partitions
            )
            # from the first run's start to the last run's end: the daemon's 30 s ticks, which
            # the launch-to-finished time moves in, are the same for any number of workers
            runs = backfilled["backfill"]
            backfilled["runs_seconds"] = runs["last_run_ended"] - runs["first_run_started"]
            backfilled["transactions_per_second"] = records / backfilled["runs_seconds"]
    measured["ratio_2_to_1"] = (
        measured["workers_2"]["transactions_per_second"]
        / measured["workers_1"]["transactions_per_second"]
    )
    return measured


def _backfill(
    url: str, raw: Path, work: Path, workers: int, partitions: list[str]
) -> dict[str, Any]:
    """Dagster's backfill of the transactions partitions, launched as the UI launches one, on
    `workers` Celery workers: half the partitions per run (the backfill policy's hours per run),
    so that the two runs' steps can go to two workers. Dagster's floor (an asset doing nothing,
    in one run, in the run's process) is measured on the same `dagster dev`."""
    run(_settings(url, raw, work), ("products", "customers"), show_progress=False)
    environ = {
        "DATABASE_URL": url,
        "WAREHOUSE_HOME": str(work / "home"),
        "RAW_DATA_DIR": str(raw),
        "WAREHOUSE_PSEUDONYM_KEY": KEY.decode(),
        "WAREHOUSE_ENV": "bench",
        "WAREHOUSE_PARTITIONS_START": "2020-01-01",
        "WAREHOUSE_BACKFILL_HOURS_PER_RUN": str(math.ceil(len(partitions) / 2)),
    }
    root = work / f"deployment_{workers}"
    with LocalDeployment(root, environ, workers, code_server=False) as deployment:
        modules = ["pipelines.definitions", "tests.dagster_floor"]
        with DagsterDev(root / "dev", modules, deployment.environ, deployment.home) as dev:
            floor = dev.backfill("nothing_hourly", partitions)
            backfill = dev.backfill("transactions", partitions)
        steps = deployment.steps_per_worker()
    return {
        "seconds": backfill.seconds,
        "backfill": vars(backfill),
        "floor": vars(floor),
        "steps_per_worker": steps,
    }


def _history(server: Server, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Seconds per file to load the same new files into an empty warehouse and into one that
    already holds `history_months` months."""
    raw = work / "history_raw"
    for n in range(args.files):
        sales = [
            lz.transaction(
                f"10000000-0000-4000-8000-{n:06d}{line:06d}",
                f"{line % 5000:06d}",
                ((1 + line % 40, 1 + line % 3, "12.00"), (41, 1, "3.50")),
                transaction_time=f"2021-01-05T{n:02d}:{line % 60:02d}:00",
            )
            for line in range(args.transactions_per_file)
        ]
        lz.write(raw, "transactions", sales, "2021-01-05", hour=n)

    measured: dict[str, Any] = {
        "files": args.files,
        "transactions_per_file": args.transactions_per_file,
    }
    for kind in ("empty", "history"):
        with server.fresh_database(migrated=True) as url:
            if kind == "history":
                started = time.perf_counter()
                measured["history_rows"] = _fill_history(
                    url, args.history_months, args.history_transactions_per_month
                )
                measured["history_fill_seconds"] = time.perf_counter() - started
            settings = _settings(url, raw, work)
            timings = []
            for hour in range(args.files):
                started = time.perf_counter()
                hour_of_day = (date(2021, 1, 5), hour)
                summary = run(
                    settings,
                    ("transactions",),
                    Window(hour_of_day, hour_of_day),
                    show_progress=False,
                )
                timings.append(time.perf_counter() - started)
                assert summary.ok, summary.render()
            measured[kind] = {
                "seconds_per_file": sum(timings) / len(timings),
                # the first file also creates the month's partitions
                "seconds_per_file_after_first": sum(timings[1:]) / max(1, len(timings) - 1),
                "timings": timings,
                "checks_seconds": _checks_seconds(url),
                "bytes_per_row": _bytes_per_row(url),
            }
    measured["ratio_history_to_empty"] = (
        measured["history"]["seconds_per_file_after_first"]
        / measured["empty"]["seconds_per_file_after_first"]
    )
    return measured


def _checks_seconds(url: str) -> dict[str, float]:
    """Seconds each transactions check's measure takes: for one partition, as after each
    partition's load, and over the whole warehouse, as when the check runs alone."""
    hour = Window((date(2021, 1, 5), 1), (date(2021, 1, 5), 1))
    timings = {}
    with psycopg.connect(url) as conn:
        for name, measure in (
            ("orphans, partition", lambda c: quality.orphans(c, hour)),
            ("transaction_totals, partition", lambda c: quality.transaction_totals(c, window=hour)),
            ("orphans, all", quality.orphans),
            ("transaction_totals, all", quality.transaction_totals),
            ("accounting", lambda c: quality.accounting(c, "transactions")),
        ):
            started = time.perf_counter()
            measure(conn)
            timings[name] = time.perf_counter() - started
    return timings


def _bytes_per_row(url: str) -> dict[str, float]:
    """On-disk bytes (table, indexes, TOAST; every partition) per row of the tables that grow."""
    sizes = {}
    with psycopg.connect(url) as conn:
        for table in (
            "warehouse.transactions",
            "warehouse.transaction_items",
            "warehouse.transaction_ids",
            "ops.load_log",
        ):
            rows, size = conn.execute(
                f"""
                SELECT (SELECT count(*) FROM {table}),
                       coalesce((SELECT sum(pg_total_relation_size(relid))
                                 FROM pg_partition_tree(%s::regclass)),
                                pg_total_relation_size(%s::regclass))
                """,
                (table, table),
            ).fetchone()
            sizes[table] = size / rows if rows else 0.0
    return sizes


def _fill_history(url: str, months: int, per_month: int) -> dict[str, int]:
    """Months of transactions (two lines each) and their load log, written straight in SQL:
    what matters here is how much the tables and their indexes hold, not how it got there.
    The marts are left out (their pending days dropped): the benchmark times loads."""
    with psycopg.connect(url) as conn:
        for month in range(months):
            first = date(2020, 1 + month, 1)
            conn.execute(
                "SELECT ops.create_partition(p, %s) FROM unnest(ops.partitioned_tables()) p",
                (first,),
            )
            conn.execute(
                """
                CREATE TEMP TABLE history ON COMMIT DROP AS
                SELECT gen_random_uuid() AS transaction_id, at AS transaction_time,
                       md5(n::text) || md5((n + 1)::text) AS customer_key, n %% 1400 + 1 AS line,
                       to_char(at, '"date="YYYY-MM-DD"/hour="HH24"/transactions.json.gz"') AS file
                FROM generate_series(1, %(count)s) AS n,
                     LATERAL (SELECT %(first)s::timestamp
                                     + n * (interval '28 days' / %(count)s) AS at) AS t
                """,
                {"first": first, "count": per_month},
            )
            conn.execute(
                """
                INSERT INTO warehouse.transaction_ids
                SELECT transaction_id, transaction_time, file, line FROM history;
                INSERT INTO warehouse.transactions
                SELECT transaction_id, customer_key, transaction_time, 'City', 'United Kingdom',
                       'E7', 27.50, file, line
                FROM history;
                INSERT INTO warehouse.transaction_items
                SELECT transaction_id, transaction_time, item, 1 + line % 40, 2, 12.00, 24.00
                FROM history, (VALUES (1), (2)) AS items(item);
                INSERT INTO ops.load_log (dataset, partition_date, partition_hour, source_file,
                                          checksum, status, records_read, records_loaded,
                                          started_at)
                SELECT 'transactions', h::date, extract(hour FROM h),
                       to_char(h, '"date="YYYY-MM-DD"/hour="HH24"/transactions.json.gz"'),
                       md5(h::text), 'loaded', 1400, 1400, now()
                FROM generate_series(%(first)s::timestamp,
                                     %(first)s::timestamp + interval '1 month' - interval '1 hour',
                                     interval '1 hour') AS h;
                """.replace("%(first)s", f"'{first}'")
            )
            conn.commit()
        conn.execute("DELETE FROM marts.pending_days")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("warehouse.transactions", "warehouse.transaction_items", "ops.load_log")
        }


def _markdown(results: dict[str, Any]) -> str:
    workers, history = results["workers"], results["history"]
    lines = ["# Scale-out benchmark", "", "## Backfill on Celery workers", ""]
    lines.append(
        f"{workers['partitions']} hourly transactions partitions, "
        f"{workers['transactions']} transactions. Without Dagster, `warehouse run`: "
        f"{workers['warehouse_run_1_seconds']:.1f} s in one process, "
        f"{workers['warehouse_run_2_seconds']:.1f} s with `--workers 2`."
    )
    if "skipped" in workers:
        lines += ["", f"Workers: skipped ({workers['skipped']})."]
    else:
        lines += [
            "",
            "Launched as the UI launches a backfill (`dagster dev`'s GraphQL), half the partitions "
            "per run; Dagster's floor is the same backfill of an asset doing nothing, in one run.",
            "",
            "| Workers | Backfill s | Runs | Runs' span, s | Floor s | Floor + 3 × CLI, s "
            "| Transactions/s (runs' span) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for n in (1, 2):
            measured = workers[f"workers_{n}"]
            backfill, floor = measured["backfill"], measured["floor"]
            bound = floor["seconds"] + 3 * workers["warehouse_run_1_seconds"]
            lines.append(
                f"| {n} | {backfill['seconds']:.1f} | {backfill['runs']} | "
                f"{measured['runs_seconds']:.1f} | {floor['seconds']:.1f} | {bound:.1f} | "
                f"{measured['transactions_per_second']:.0f} |"
            )
        lines += ["", f"Throughput ratio, 2 workers to 1: **{workers['ratio_2_to_1']:.2f}**"]
    lines += ["", "## A file into an empty warehouse and into one with history", ""]
    rows = history.get("history_rows", {})
    lines.append(
        f"{history['files']} files of {history['transactions_per_file']} transactions; history: "
        + ", ".join(f"{table} {count:,}" for table, count in rows.items())
    )
    lines += ["", "| Warehouse | Seconds per file (after the first) |", "| --- | --- |"]
    for kind in ("empty", "history"):
        lines.append(f"| {kind} | {history[kind]['seconds_per_file_after_first']:.3f} |")
    lines += ["", f"Ratio, history to empty: **{history['ratio_history_to_empty']:.2f}**", ""]
    lines += ["| Check's measure | empty s | history s |", "| --- | --- | --- |"]
    for name in history["empty"]["checks_seconds"]:
        lines.append(
            f"| {name} | {history['empty']['checks_seconds'][name]:.3f} "
            f"| {history['history']['checks_seconds'][name]:.3f} |"
        )
    lines += [
        "",
        "Bytes per row (history): "
        + ", ".join(
            f"{table} {size:.0f}" for table, size in history["history"]["bytes_per_row"].items()
        ),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
