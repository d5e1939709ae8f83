"""Data-quality measures of the warehouse, read with plain queries: `warehouse status`,
`warehouse doctor` and the orchestrator's asset checks (which compare them with thresholds) all
measure through this module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from etl.datasets import dataset as dataset_named
from etl.datasets.orphan_rule import UNKNOWN_CUSTOMER, UNKNOWN_PRODUCT
from etl.source.landing import Window

ANALYTICS_SCHEMA = "warehouse"

# Column names that would hold a direct identifier. `postcode_district` (an area) and a
# product's `name` are not identifiers; `postcode`, `delivery_address` and the like are.
_IDENTIFIER_COLUMN = (
    r"^(.*_)?(e_?mail|phone(_number)?|first_name|last_name|full_name|surname|date_of_birth"
    r"|birth_?date|dob|address|street|postcode|customer_id)$"
)
# An e-mail address or an E.164 phone number anywhere in a row's text.
_IDENTIFIER_VALUE = r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+|\+[0-9]{8,15}"
_TEXT_TYPES = ["text", "character varying", "character", "json", "jsonb"]

# Load-log rows of the landing folders of a window (etl.source.landing.Window): %(first_day)s and
# %(first_hour)s to %(last_day)s and %(last_hour)s, every folder when they are null. The dates
# alone bound the months of the log that are read.
_IN_WINDOW = """
    (%(first_day)s::date IS NULL OR (partition_date >= %(first_day)s::date
        AND (partition_date, partition_hour) >= (%(first_day)s::date, %(first_hour)s::smallint)))
    AND (%(last_day)s::date IS NULL OR (partition_date <= %(last_day)s::date
        AND (partition_date, partition_hour) <= (%(last_day)s::date, %(last_hour)s::smallint)))
"""

# The load behind each file's content now in the warehouse (as etl/inspection/status.py counts
# them).
_CURRENT_LOADS = f"""
    SELECT * FROM ops.loads_in_effect(%(first_day)s::date, %(last_day)s::date)
    WHERE dataset = %(dataset)s AND {_IN_WINDOW}
"""


def _window_params(window: Window | None) -> dict[str, object]:
    first = window.first if window else None
    last = window.last if window else None
    return {
        "first_day": first[0] if first else None,
        "first_hour": first[1] if first else None,
        "last_day": last[0] if last else None,
        "last_hour": last[1] if last else None,
    }


@dataclass(frozen=True)
class QuarantineRate:
    """Records quarantined among the records read by the loads now in effect."""

    files: int
    read: int
    quarantined: int

    @property
    def rate(self) -> float:
        return self.quarantined / self.read if self.read else 0.0


@dataclass(frozen=True)
class Accounting:
    """Whether every record read is somewhere, and everything stored came from a logged load.

    Attributes:
        records_read: records read by the loads now in effect.
        records_accounted_for: of those, loaded + duplicate + quarantined + erased.
        quarantined_without_load: quarantine rows from files with no load in effect.
        quarantined_beyond_count: quarantine rows beyond what their file's load quarantined
            (fewer is fine: erasure removes an erased customer's rejected records).
        rows_without_load: stored rows from files with no load in effect.
    """

    files: int
    records_read: int
    records_accounted_for: int
    quarantined_without_load: int
    quarantined_beyond_count: int
    rows_without_load: int

    @property
    def unaccounted(self) -> int:
        return (
            abs(self.records_read - self.records_accounted_for)
            + self.quarantined_without_load
            + self.quarantined_beyond_count
            + self.rows_without_load
        )


@dataclass(frozen=True)
class TransactionTotals:
    """Transactions whose stored lines do not add up (line total = price x quantity, total_cost =
    sum of line totals); `examples` are a few of their ids."""

    transactions: int
    inconsistent: int
    examples: tuple[str, ...]


def quarantine_rate(
    conn: psycopg.Connection, dataset: str, window: Window | None = None
) -> QuarantineRate:
    """The dataset's quarantine rate: of the loads of a window's folders when given, else of
    all its loads."""
    files, read, quarantined = conn.execute(
        f"""
        SELECT count(*), coalesce(sum(records_read), 0)::bigint,
               coalesce(sum(records_quarantined), 0)::bigint
        FROM ({_CURRENT_LOADS}) AS current_loads
        """,
        {"dataset": dataset, **_window_params(window)},
    ).fetchone()
    return QuarantineRate(files, read, quarantined)


def accounting(conn: psycopg.Connection, dataset: str) -> Accounting:
    """Every record of the dataset's loads in effect accounted for, and nothing stored unlogged."""
    params = {"dataset": dataset, **_window_params(None)}
    files, read, accounted = conn.execute(
        f"""
        SELECT count(*), coalesce(sum(records_read), 0)::bigint,
               coalesce(sum(records_loaded + records_duplicate + records_quarantined
                            + records_erased), 0)::bigint
        FROM ({_CURRENT_LOADS}) AS current_loads
        """,
        params,
    ).fetchone()
    without_load, beyond_count = conn.execute(
        f"""
        WITH current_loads AS ({_CURRENT_LOADS}),
        rejected AS (
            SELECT source_file, count(*) AS rows FROM ops.quarantine
            WHERE dataset = %(dataset)s GROUP BY source_file
        )
        SELECT coalesce(sum(r.rows) FILTER (WHERE c.source_file IS NULL), 0)::bigint,
               coalesce(sum(r.rows - c.records_quarantined)
                        FILTER (WHERE r.rows > c.records_quarantined), 0)::bigint
        FROM rejected r LEFT JOIN current_loads c USING (source_file)
        """,
        params,
    ).fetchone()
    rows_without_load = sum(
        conn.execute(
            f"""
            SELECT count(*) FROM {table} t
            WHERE NOT EXISTS (
                SELECT 1 FROM ops.loads_in_effect() l WHERE l.source_file = t.source_file
            )
            """
        ).fetchone()[0]
        for table in dataset_named(dataset).source_tables
    )
    return Accounting(files, read, accounted, without_load, beyond_count, rows_without_load)


def transaction_totals(
    conn: psycopg.Connection, examples: int = 5, window: Window | None = None
) -> TransactionTotals:
    """Stored transactions checked against their stored lines: those the files of a window's
    landing folders stored when given, else all of them."""
    scope, params = _transactions_in_scope(conn, window)
    if window is None:
        # every line once, grouped: one pass over each table
        lines = """
            SELECT transaction_id, sum(total) AS total,
                   bool_or(total <> price * quantity) AS line_wrong
            FROM warehouse.transaction_items GROUP BY transaction_id
        """
        measured = "warehouse.transactions t LEFT JOIN lines l USING (transaction_id)"
    else:
        # a few transactions: their lines looked up in their month's index
        lines = "SELECT 1"
        measured = f"""
            ({scope}) AS m
            JOIN warehouse.transactions t USING (transaction_id, transaction_time)
            CROSS JOIN LATERAL (
                SELECT sum(i.total) AS total, bool_or(i.total <> i.price * i.quantity) AS line_wrong
                FROM warehouse.transaction_items i
                WHERE i.transaction_id = t.transaction_id
                  AND i.transaction_time = t.transaction_time
            ) AS l
        """
    rows = conn.execute(
        f"""
        WITH lines AS ({lines})
        SELECT count(*) OVER (), t.transaction_id::text
        FROM {measured}
        WHERE t.transaction_time BETWEEN %(first)s AND %(last)s
          AND (coalesce(l.total, 0) <> t.total_cost OR l.line_wrong)
        ORDER BY t.transaction_id
        LIMIT %(examples)s
        """,
        {**params, "examples": examples},
    ).fetchall()
    transactions = conn.execute(f"SELECT count(*) FROM ({scope}) AS measured", params).fetchone()[0]
    return TransactionTotals(transactions, rows[0][0] if rows else 0, tuple(r[1] for r in rows))


def _transactions_in_scope(
    conn: psycopg.Connection, window: Window | None
) -> tuple[str, dict[str, object]]:
    """A query of (transaction_id, transaction_time), and its parameters: every stored
    transaction, or those whose stored copy came from the dataset's files of a window's landing
    folders, found through the load log and warehouse.transaction_ids (an index each). The
    parameters `first` and `last` bound their times, so that the tables joined to them are
    read in those months only, whatever the history."""
    if window is None:
        return (
            "SELECT transaction_id, transaction_time FROM warehouse.transactions",
            {"first": datetime.min, "last": datetime.max},
        )
    scope = f"""
        SELECT transaction_id, transaction_time FROM warehouse.transaction_ids
        WHERE source_file = ANY(ARRAY(
            SELECT DISTINCT source_file FROM ops.load_log
            WHERE dataset = 'transactions' AND {_IN_WINDOW}))
    """
    params = _window_params(window)
    first, last = conn.execute(
        f"SELECT min(transaction_time), max(transaction_time) FROM ({scope}) AS s", params
    ).fetchone()
    return scope, {**params, "first": first or datetime.min, "last": last or datetime.min}


def identifier_columns(conn: psycopg.Connection) -> list[str]:
    """Columns of analytics tables whose name says they hold a direct identifier."""
    return [
        row[0]
        for row in conn.execute(
            """
            SELECT table_schema || '.' || table_name || '.' || column_name
            FROM information_schema.columns
            WHERE table_schema = %s AND column_name ~* %s
            ORDER BY 1
            """,
            (ANALYTICS_SCHEMA, _IDENTIFIER_COLUMN),
        )
    ]


def identifier_values(conn: psycopg.Connection) -> dict[str, int]:
    """Per analytics table with text columns, rows holding an e-mail address or a phone number
    (only tables where some are found)."""
    tables = conn.execute(
        """
        SELECT DISTINCT c.table_name
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE' AND c.data_type = ANY(%s)
        ORDER BY 1
        """,
        (ANALYTICS_SCHEMA, _TEXT_TYPES),
    ).fetchall()
    found = {}
    for (table,) in tables:
        name = f'{ANALYTICS_SCHEMA}."{table}"'
        rows = conn.execute(
            f"SELECT count(*) FROM {name} AS t WHERE t::text ~* %s", (_IDENTIFIER_VALUE,)
        ).fetchone()[0]
        if rows:
            found[f"{ANALYTICS_SCHEMA}.{table}"] = rows
    return found


@dataclass(frozen=True)
class Orphans:
    """Stored transactions; of them, those whose customer is unknown (and not erased), those
    with a product unknown, and those of erased customers (known once, so not orphans)."""

    transactions: int
    unknown_customer: int
    unknown_product: int
    erased_customer: int


def orphans(conn: psycopg.Connection, window: Window | None = None) -> Orphans:
    """Orphans by the rule above, an erased customer's transactions (kept under their
    pseudonym) counted apart. Of the transactions the files of a window's landing folders
    stored when given, else of all."""
    scope, params = _transactions_in_scope(conn, window)
    measured = (
        "warehouse.transactions t"
        if window is None
        else f"warehouse.transactions t JOIN ({scope}) m USING (transaction_id, transaction_time)"
    )
    row = conn.execute(
        f"""
        SELECT count(*),
               count(*) FILTER (WHERE customer_unknown AND NOT erased),
               count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM warehouse.transaction_items i
                   WHERE i.transaction_id = t.transaction_id
                     AND i.transaction_time = t.transaction_time  -- in its month only
                     AND {UNKNOWN_PRODUCT.format(i="i")}
               )),
               count(*) FILTER (WHERE erased)
        FROM (
            SELECT transaction_id, transaction_time,
                   {UNKNOWN_CUSTOMER.format(t="t")} AS customer_unknown,
                   EXISTS (SELECT 1 FROM privacy.erased_customers e
                           WHERE e.customer_key = t.customer_key) AS erased
            FROM {measured}
            WHERE t.transaction_time BETWEEN %(first)s AND %(last)s
        ) AS t
        """,
        params,
    ).fetchone()
    return Orphans(*row)


def erased_customers(conn: psycopg.Connection) -> int:
    """Customers erased so far (their tombstones)."""
    return conn.execute("SELECT count(*) FROM privacy.erased_customers").fetchone()[0]
