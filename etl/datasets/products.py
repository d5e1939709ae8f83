"""Products: the daily catalogue, kept day by day, with the current catalogue derived from it.

Rules: a product's current row is its newest catalogue's; within one catalogue file a repeated
sku is a duplicate and its last line wins.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from etl.loading.dataset import (
    Dataset,
    LoadContext,
    MergeResult,
    MergeResults,
    StagingRow,
    TempTable,
    staging_table,
)
from etl.source import cleaning
from etl.source.landing import LandingFile

STAGING = staging_table(
    "stg_products",
    ("source_line", "sku", "name", "category", "price", "popularity"),
    ("integer", "integer", "text", "text", "numeric(12, 2)", "double precision"),
)
# Each product's entry of each catalogue day in the batch: its file's last line of it.
WINNERS = STAGING.with_columns(
    "product_winners", ("source_file", "text"), ("catalogue_date", "date")
)
# Products whose catalogue entries a changed file took back.
FORGOTTEN = TempTable("forgotten_products", ("sku",), ("integer",))


def to_staging(
    record: dict[str, Any], line_number: int, context: LoadContext
) -> Iterator[StagingRow]:
    """One clean catalogue entry."""
    yield (
        STAGING.name,
        (
            line_number,
            # JSON Schema counts 99096.0 as an integer; the database needs it written as one
            int(record["sku"]),
            cleaning.text(record.get("name")),
            cleaning.text(record["category"]),
            record["price"],
            record["popularity"],
        ),
    )


def merge(conn: psycopg.Connection, context: LoadContext) -> MergeResults:
    """Add each file's catalogue as the catalogue of its day, then refresh the current
    products."""
    # Two files for one day (products.json and products.json.gz) resolve by path, then line.
    conn.execute(
        """
        INSERT INTO product_winners
        SELECT DISTINCT ON (s.sku, f.partition_date) s.*, f.source_file, f.partition_date
        FROM stg_products s JOIN stg_files f USING (file_number)
        ORDER BY s.sku, f.partition_date, f.source_file DESC, s.source_line DESC
        """
    )
    loaded = dict(
        conn.execute(
            """
            WITH upserted AS (
                INSERT INTO warehouse.product_catalogue AS catalogue (
                    sku, catalogue_date, name, category, price, popularity, source_file,
                    source_line
                )
                SELECT sku, catalogue_date, name, category, price, popularity, source_file,
                       source_line
                FROM product_winners ORDER BY sku, catalogue_date
                ON CONFLICT (sku, catalogue_date) DO UPDATE SET
                    name = EXCLUDED.name, category = EXCLUDED.category, price = EXCLUDED.price,
                    popularity = EXCLUDED.popularity, source_file = EXCLUDED.source_file,
                    source_line = EXCLUDED.source_line
                WHERE (catalogue.source_file, catalogue.source_line)
                    < (EXCLUDED.source_file, EXCLUDED.source_line)
                RETURNING source_file
            )
            SELECT f.file_number, count(*)
            FROM upserted u JOIN stg_files f USING (source_file) GROUP BY f.file_number
            """
        ).fetchall()
    )
    staged = conn.execute(
        "SELECT file_number, count(*) FROM stg_products GROUP BY file_number"
    ).fetchall()
    _refresh_current(conn, "SELECT sku FROM product_winners")
    return {
        number: MergeResult(loaded=loaded.get(number, 0), duplicate=records - loaded.get(number, 0))
        for number, records in staged
    }


def forget(conn: psycopg.Connection, files: Sequence[LandingFile]) -> None:
    """Remove earlier versions of catalogue files; their products fall back to other days."""
    conn.execute(
        """
        WITH deleted AS (
            DELETE FROM warehouse.product_catalogue WHERE source_file = ANY(%s) RETURNING sku
        )
        INSERT INTO forgotten_products SELECT DISTINCT sku FROM deleted
        """,
        ([f.relative_path for f in files],),
    )
    _refresh_current(conn, "SELECT sku FROM forgotten_products")


def _refresh_current(conn: psycopg.Connection, skus_query: str) -> None:
    """Rebuild warehouse.products for the given skus from their newest catalogue entry."""
    conn.execute(f"DELETE FROM warehouse.products WHERE sku IN ({skus_query})")
    conn.execute(
        f"""
        INSERT INTO warehouse.products (
            sku, name, category, price, popularity, catalogue_date, source_file, source_line
        )
        SELECT DISTINCT ON (sku)
            sku, name, category, price, popularity, catalogue_date, source_file, source_line
        FROM warehouse.product_catalogue
        WHERE sku IN ({skus_query})
        ORDER BY sku, catalogue_date DESC, source_file DESC, source_line DESC
        """
    )


DATASET = Dataset(
    name="products",
    rows_table="warehouse.products",
    source_tables=("warehouse.product_catalogue", "warehouse.products"),
    counted_tables=("warehouse.product_catalogue",),
    staging=(STAGING,),
    working=(WINNERS, FORGOTTEN),
    to_staging=to_staging,
    merge=merge,
    forget=forget,
)
