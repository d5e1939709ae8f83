"""`warehouse doctor`: check the warehouse against its load log and the landing zone.

Each check returns findings: a *problem* is an inconsistency someone must act on (the command
then exits non-zero); a *note* is worth knowing but may be legitimate (a gap in the feed, a
landing file removed after it loaded, a field the source added).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import psycopg

from etl import datasets
from etl.source import landing, schema_drift

# The loads whose content is now in the warehouse (sql-scripts/definitions/060).
_IN_EFFECT = "SELECT * FROM ops.loads_in_effect()"

# Tables whose rows name the landing file they came from: the datasets' own, and the quarantine.
_SOURCED_TABLES = (*(t for d in datasets.DATASETS for t in d.source_tables), "ops.quarantine")


@dataclass(frozen=True)
class Finding:
    """One thing the doctor found: which check, about what, and what is wrong."""

    check: str
    subject: str
    detail: str
    problem: bool = True

    def as_json(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        kind = "PROBLEM" if self.problem else "note   "
        return f"{kind} {self.check}: {self.subject}: {self.detail}"


def examine(conn: psycopg.Connection, raw_data_dir: Path | None) -> list[Finding]:
    """Every finding of every check; the landing-zone checks only when `raw_data_dir` exists."""
    findings = []
    if raw_data_dir is not None and raw_data_dir.is_dir():
        findings += _landing_zone(conn, raw_data_dir)
    elif raw_data_dir is not None:
        findings.append(
            Finding("landing zone", str(raw_data_dir), "not there: not compared", problem=False)
        )
    findings += _failed_loads(conn)
    findings += _counts(conn)
    findings += _orphan_rows(conn)
    findings += _derived_tables(conn)
    findings += _erasures(conn)
    findings += _schema_drift(conn)
    return findings


def _landing_zone(conn: psycopg.Connection, root: Path) -> Iterator[Finding]:
    """Drops not loaded, changed since their load, or not recognised; loads whose file is gone;
    hours missing from the hourly feeds."""
    in_effect = dict(conn.execute(f"SELECT source_file, checksum FROM ({_IN_EFFECT}) l"))
    drops = landing.discover(root)
    for drop in drops:
        loaded_checksum = in_effect.get(drop.relative_path)
        if loaded_checksum is None:
            yield Finding(
                "missing partition", drop.relative_path, "in the landing zone, never loaded"
            )
        elif loaded_checksum != landing.checksum(drop.path):
            yield Finding(
                "missing partition", drop.relative_path, "changed since it was loaded: run again"
            )
    for entry in landing.unrecognised(root):
        yield Finding("unrecognised landing file", entry.relative_path, entry.reason)
    present = {drop.relative_path for drop in drops}
    for source_file in sorted(set(in_effect) - present):
        yield Finding(
            "landing file gone",
            source_file,
            "loaded, but no longer in the landing zone",
            problem=False,
        )
    for name in (d.name for d in datasets.DATASETS if d.every_hour):
        hours = sorted(
            {datetime.combine(d.partition_date, time(d.partition_hour))
             for d in drops if d.dataset == name}
        )  # fmt: skip
        for before, after in itertools.pairwise(hours):
            if after - before > timedelta(hours=1):
                yield Finding(
                    "gap in the feed",
                    name,
                    f"no drop from {before + timedelta(hours=1):%Y-%m-%d %H}:00 "
                    f"to {after - timedelta(hours=1):%Y-%m-%d %H}:00",
                    problem=False,
                )


def _failed_loads(conn: psycopg.Connection) -> Iterator[Finding]:
    rows = conn.execute(
        """
        SELECT source_file, error FROM (
            SELECT DISTINCT ON (source_file) source_file, status, error
            FROM ops.load_log ORDER BY source_file, load_id DESC
        ) latest
        WHERE status = 'failed' ORDER BY source_file
        """
    )
    for source_file, error in rows:
        yield Finding("failed load", source_file, f"last attempt failed: {error}")


def _counts(conn: psycopg.Connection) -> Iterator[Finding]:
    """Loads whose counts do not add up, or that logged fewer rows than the tables hold."""
    unbalanced = conn.execute(
        """
        SELECT source_file, load_id FROM ops.load_log
        WHERE records_read <> records_loaded + records_duplicate + records_quarantined
                             + records_erased
        """
    )
    for source_file, load_id in unbalanced:
        yield Finding(
            "counts",
            source_file,
            f"load {load_id}: read <> loaded + duplicate + quarantined + erased",
        )
    for dataset, table in ((d.name, t) for d in datasets.DATASETS for t in d.counted_tables):
        # Later loads can take rows over from a file (an earlier place wins), never add to it.
        rows = conn.execute(
            f"""
            SELECT l.source_file, l.records_loaded, count(t.source_file)
            FROM ({_IN_EFFECT}) l JOIN {table} t ON t.source_file = l.source_file
            WHERE l.dataset = %s
            GROUP BY 1, 2 HAVING count(t.source_file) > l.records_loaded
            """,
            (dataset,),
        )
        for source_file, loaded, stored in rows:
            yield Finding("counts", source_file, f"{table} holds {stored} rows, its load {loaded}")
    quarantined = conn.execute(
        f"""
        SELECT l.source_file, l.records_quarantined, count(q.source_file)
        FROM ({_IN_EFFECT}) l LEFT JOIN ops.quarantine q ON q.source_file = l.source_file
        GROUP BY 1, 2 HAVING count(q.source_file) <> l.records_quarantined
        """
    ).fetchall()
    # An erasure removes quarantined lines of the person without touching the load's counts.
    removed_by_erasure = conn.execute(
        "SELECT coalesce(sum((removed->>'ops.quarantine')::int), 0) FROM privacy.erasure_log"
    ).fetchone()[0]
    missing = sum(logged - stored for _, logged, stored in quarantined if stored < logged)
    for source_file, logged, stored in quarantined:
        if stored > logged or missing > removed_by_erasure:
            yield Finding(
                "counts",
                source_file,
                f"ops.quarantine holds {stored} lines, its load quarantined {logged}",
            )


def _orphan_rows(conn: psycopg.Connection) -> Iterator[Finding]:
    """Rows whose landing file has no load in effect: nothing accounts for them."""
    for table in _SOURCED_TABLES:
        rows = conn.execute(
            f"""
            SELECT source_file, count(*) FROM {table} t
            WHERE NOT EXISTS (SELECT 1 FROM ({_IN_EFFECT}) l WHERE l.source_file = t.source_file)
            GROUP BY 1 ORDER BY 1
            """
        )
        for source_file, count in rows:
            yield Finding(
                "orphan rows", table, f"{count} rows from {source_file}, which no load logged"
            )


def _derived_tables(conn: psycopg.Connection) -> Iterator[Finding]:
    """Tables that must agree with each other."""
    halves = conn.execute(
        """
        SELECT (SELECT count(*) FROM pii.customers p WHERE NOT EXISTS (
                    SELECT 1 FROM warehouse.customers w WHERE w.customer_key = p.customer_key)),
               (SELECT count(*) FROM warehouse.customers w WHERE NOT EXISTS (
                    SELECT 1 FROM pii.customers p WHERE p.customer_key = w.customer_key))
        """
    ).fetchone()
    if any(halves):
        yield Finding(
            "customers",
            "pii.customers / warehouse.customers",
            f"{halves[0]} customers only in pii, {halves[1]} only in the analytics table",
        )
    stale = conn.execute(
        """
        SELECT count(*) FROM (
            SELECT DISTINCT ON (sku) sku, catalogue_date, price, source_file, source_line
            FROM warehouse.product_catalogue
            ORDER BY sku, catalogue_date DESC, source_file DESC, source_line DESC
        ) newest
        FULL JOIN warehouse.products p USING (sku)
        WHERE p.sku IS NULL OR newest.sku IS NULL
           OR (p.catalogue_date, p.price, p.source_file, p.source_line)
              IS DISTINCT FROM (newest.catalogue_date, newest.price, newest.source_file,
                                newest.source_line)
        """
    ).fetchone()[0]
    if stale:
        yield Finding(
            "products", "warehouse.products", f"{stale} products differ from their newest catalogue"
        )
    bare = conn.execute(
        """
        SELECT count(*) FROM warehouse.transactions t
        WHERE NOT EXISTS (SELECT 1 FROM warehouse.transaction_items i
                          WHERE i.transaction_id = t.transaction_id
                            AND i.transaction_time = t.transaction_time)
        """
    ).fetchone()[0]
    if bare:
        yield Finding(
            "transactions", "warehouse.transaction_items", f"{bare} transactions have no items"
        )


def _erasures(conn: psycopg.Connection) -> Iterator[Finding]:
    """Requests carried out whose person is still there, or pending though the person arrived."""
    untombed = conn.execute(
        """
        SELECT l.request_id FROM privacy.erasure_log l
        WHERE l.outcome = 'erased' AND NOT EXISTS (
            SELECT 1 FROM privacy.erased_customers e WHERE e.customer_key = l.customer_key)
        """
    )
    for (request_id,) in untombed:
        yield Finding("un-erased request", request_id, "erased, but no tombstone keeps it so")
    remains = conn.execute(
        """
        SELECT e.request_id, kept.place FROM privacy.erased_customers e
        CROSS JOIN LATERAL (
            SELECT 'pii.customers' AS place FROM pii.customers c
             WHERE c.customer_id = e.customer_id
            UNION ALL
            SELECT 'warehouse.customers' FROM warehouse.customers c
             WHERE c.customer_key = e.customer_key
            UNION ALL
            SELECT 'pii.delivery_addresses' FROM pii.delivery_addresses d
             WHERE d.customer_id = e.customer_id
            UNION ALL
            SELECT 'ops.quarantine' FROM ops.quarantine q
             WHERE q.subjects && ARRAY[e.customer_key::text]
        ) kept
        GROUP BY 1, 2 ORDER BY 1, 2
        """
    )
    for request_id, place in remains:
        yield Finding("un-erased request", request_id, f"the erased customer is still in {place}")
    pending = conn.execute(
        """
        SELECT l.request_id FROM privacy.erasure_log l
        WHERE l.outcome = 'unknown_customer'
          AND EXISTS (SELECT 1 FROM pii.customers c WHERE c.customer_key = l.customer_key)
        ORDER BY 1
        """
    )
    for (request_id,) in pending:
        yield Finding(
            "un-erased request", request_id, "pending for an unknown customer, who has arrived"
        )


def _schema_drift(conn: psycopg.Connection) -> Iterator[Finding]:
    """Fields the source sent that the schema does not know. A note, not a problem: the
    warehouse holds what its contract says (the records loaded without the field, or are in
    quarantine), so nothing in it is inconsistent; what to do (add the field to the schema and
    replay, or have the source stop sending it) is a decision, and a problem would fail every
    doctor run until it is taken. The asset check `schema_drift` warns in the same spirit."""
    for found in schema_drift.drift(conn):
        yield Finding("schema drift", found.dataset, str(found), problem=False)
