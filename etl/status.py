"""What the warehouse holds, per dataset, read from its tables and the load log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from etl import freshness, schema_drift
from etl.settings import DEFAULT_TIMEZONE

# The table whose rows a dataset's loads produce.
DATASET_TABLES = {
    "products": "warehouse.products",
    "customers": "warehouse.customers",
    "transactions": "warehouse.transactions",
}

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

_ORPHANS = """
    SELECT
        count(*) FILTER (WHERE NOT EXISTS (
            SELECT 1 FROM warehouse.customers c WHERE c.customer_key = t.customer_key
        ) AND NOT EXISTS (
            SELECT 1 FROM privacy.erased_customers e WHERE e.customer_key = t.customer_key
        )) AS unknown_customer,
        count(*) FILTER (WHERE EXISTS (
            SELECT 1 FROM warehouse.transaction_items i
            WHERE i.transaction_id = t.transaction_id
              AND i.transaction_time = t.transaction_time  -- in its month only
              AND NOT EXISTS (SELECT 1 FROM warehouse.products p WHERE p.sku = i.sku)
        )) AS unknown_product
    FROM warehouse.transactions t
"""


def orphans(conn: psycopg.Connection) -> dict[str, int]:
    """Transactions whose customer, or one of whose products, is not in the warehouse now.

    An erased customer's transactions are not orphans: their customer is known, and gone.
    """
    unknown_customer, unknown_product = conn.execute(_ORPHANS).fetchone()
    return {"unknown_customer": unknown_customer, "unknown_product": unknown_product}


def status(
    conn: psycopg.Connection,
    raw_data_dir: Path,
    timezone: str = DEFAULT_TIMEZONE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Per dataset: files and partitions loaded, rows stored, records read, loaded, duplicate and
    quarantined by the loads now in effect, rows in quarantine, the last load's time, the
    fields the source sent that the schema does not know (etl/schema_drift.py), and the newest
    partition loaded and those overdue at `now` (default: the present) against the landing
    zone `raw_data_dir` (etl/freshness.py)."""
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
    for dataset in sorted(set(totals) | set(failed) | set(DATASET_TABLES)):
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
        if dataset in DATASET_TABLES:
            table = DATASET_TABLES[dataset]
            entry["rows"] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if entry["last_load"] is not None:
            entry["last_load"] = entry["last_load"].isoformat()
        report[dataset] = entry
    if "transactions" in report:
        report["transactions"]["orphans"] = orphans(conn)
    return report
