"""What the warehouse holds, per dataset, read from its tables and the load log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from etl import datasets
from etl.inspection import freshness, quality
from etl.settings import DEFAULT_TIMEZONE
from etl.source import schema_drift

_LOAD_TOTALS = """
    WITH current_loads AS (
        -- the load behind each file's content now in the warehouse
        SELECT * FROM ops.loads_in_effect()
    )
    SELECT dataset,
           count(*) AS files,
           count(*) FILTER (WHERE status = 'rejected') AS files_rejected,
           count(DISTINCT (partition_date, partition_hour)) AS partitions,
           sum(records_read) AS records_read,
           sum(records_loaded) AS records_loaded,
           sum(records_duplicate) AS duplicates,
           sum(records_quarantined) AS quarantined,
           max(finished_at) AS last_load
    FROM current_loads GROUP BY dataset
"""

_FAILED_FILES = """
    SELECT dataset, count(*) AS files_failed
    FROM (
        SELECT DISTINCT ON (source_file) dataset, status
        FROM ops.load_log ORDER BY source_file, load_id DESC
    ) latest
    WHERE status = 'failed' GROUP BY dataset
"""


def status(
    conn: psycopg.Connection,
    raw_data_dir: Path,
    timezone: str = DEFAULT_TIMEZONE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Per dataset: files and partitions loaded, rows stored, records read, loaded, duplicate and
    quarantined by the loads now in effect, rows in quarantine, the last load's time, the
    fields the source sent that the schema does not know (etl/source/schema_drift.py), and the
    newest partition loaded and those overdue at `now` (default: the present) against the landing
    zone `raw_data_dir` (etl/inspection/freshness.py)."""
    with conn.cursor(row_factory=dict_row) as cursor:
        totals = {row.pop("dataset"): row for row in cursor.execute(_LOAD_TOTALS)}
        failed = {row["dataset"]: row["files_failed"] for row in cursor.execute(_FAILED_FILES)}
    in_quarantine = dict(
        conn.execute("SELECT dataset, count(*) FROM ops.quarantine GROUP BY dataset").fetchall()
    )
    fresh = freshness.freshness(conn, raw_data_dir, timezone, now or datetime.now(UTC))
    drifted: dict[str, list[dict[str, object]]] = {}
    for found in schema_drift.drift(conn):
        drifted.setdefault(found.dataset, []).append(found.as_json())
    report: dict[str, Any] = {}
    rows_tables = {d.name: d.rows_table for d in datasets.DATASETS if d.rows_table}
    for dataset in sorted(set(totals) | set(failed) | set(rows_tables)):
        entry = {
            "files": 0,
            "files_rejected": 0,
            "partitions": 0,
            "records_read": 0,
            "records_loaded": 0,
            "duplicates": 0,
            "quarantined": 0,
            "last_load": None,
        }
        entry.update({k: v for k, v in totals.get(dataset, {}).items() if v is not None})
        entry["files_failed"] = failed.get(dataset, 0)
        entry["rows_in_quarantine"] = in_quarantine.get(dataset, 0)
        entry["schema_drift"] = drifted.get(dataset, [])
        if dataset in fresh:
            entry["newest_partition"] = fresh[dataset].newest
            entry["overdue"] = [overdue.as_json() for overdue in fresh[dataset].overdue]
        if dataset in rows_tables:
            table = rows_tables[dataset]
            entry["rows"] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if entry["last_load"] is not None:
            entry["last_load"] = entry["last_load"].isoformat()
        report[dataset] = entry
    if "transactions" in report:
        found = quality.orphans(conn)
        report["transactions"]["orphans"] = {
            "unknown_customer": found.unknown_customer,
            "unknown_product": found.unknown_product,
        }
    return report
