"""What each dataset's table is, read from PostgreSQL's own catalog: its columns with their types
and descriptions (sql-scripts/080_column_comments.sql), and the rows its landing folders left in
it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import psycopg

# The table a dataset's loads fill, one row per record kept: what its orchestrator asset is.
# A catalogue's day is its rows of product_catalogue (warehouse.products is derived from them).
TABLES = {
    "products": "warehouse.product_catalogue",
    "customers": "warehouse.customers",
    "transactions": "warehouse.transactions",
    "erasure-requests": "privacy.erasure_log",
}
# Where those rows are counted by landing file: warehouse.transaction_ids holds every stored
# transaction once with its file, in one table with an index on it, where the months of
# warehouse.transactions would each be searched.
_COUNTED_IN = {**TABLES, "transactions": "warehouse.transaction_ids"}


@dataclass(frozen=True)
class Column:
    """A column as the catalog describes it; `description` is its comment."""

    name: str
    type: str
    nullable: bool
    description: str | None


def columns(conn: psycopg.Connection, table: str) -> list[Column]:
    """The columns of `table` (schema.name), in their order."""
    rows = conn.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
               col_description(a.attrelid, a.attnum)
        FROM pg_attribute a
        WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (table,),
    )
    return [Column(*row) for row in rows]


def rows_by_folder(
    conn: psycopg.Connection, dataset: str, days: Iterable[date]
) -> dict[tuple[date, int], int]:
    """Rows the dataset's table holds now from the loaded landing files of `days`, by landing
    folder (date, hour). A folder whose rows later files took over counts 0; a folder with no
    loaded file is absent."""
    days = sorted(set(days))
    if not days:
        return {}
    rows = conn.execute(
        f"""
        SELECT f.partition_date, f.partition_hour, count(t.source_file)
        FROM (
            SELECT source_file, partition_date, partition_hour
            FROM ops.loads_in_effect(%s, %s) WHERE dataset = %s AND partition_date = ANY(%s)
        ) f
        LEFT JOIN {_COUNTED_IN[dataset]} t USING (source_file)
        GROUP BY 1, 2
        """,
        (days[0], days[-1], dataset, days),
    )
    return {(day, hour): count for day, hour, count in rows}
