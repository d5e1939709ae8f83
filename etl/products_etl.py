"""Products: the daily catalogue, kept day by day, with the current catalogue derived from it.

Rules: a product's current row is its newest catalogue's; within one catalogue file a repeated
sku is a duplicate and its last line wins.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from etl import cleaning, runner
from etl.cli import standalone_main
from etl.dataset import Dataset, LoadContext, MergeResult, StagingRow, StagingTable
from etl.landing import LandingFile
from etl.runner import RunSummary
from etl.settings import Settings

STAGING = StagingTable(
    "stg_products",
    ("source_line", "sku", "name", "category", "price", "popularity"),
    ("integer", "integer", "text", "text", "numeric(12, 2)", "double precision"),
)


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


def merge(conn: psycopg.Connection, context: LoadContext) -> MergeResult:
    """Add the file's catalogue as the catalogue of its day, then refresh the current products."""
    landing_file = context.landing_file
    conn.execute(
        """
        CREATE TEMP TABLE product_winners ON COMMIT DROP AS
        SELECT DISTINCT ON (sku) * FROM stg_products ORDER BY sku, source_line DESC
        """
    )
    # Two files for one day (products.json and products.json.gz) resolve by path, then line.
    loaded = conn.execute(
        """
        WITH upserted AS (
            INSERT INTO warehouse.product_catalogue AS catalogue (
                sku, catalogue_date, name, category, price, popularity, source_file, source_line
            )
            SELECT sku, %(day)s, name, category, price, popularity, %(file)s, source_line
            FROM product_winners ORDER BY sku
            ON CONFLICT (sku, catalogue_date) DO UPDATE SET
                name = EXCLUDED.name, category = EXCLUDED.category, price = EXCLUDED.price,
                popularity = EXCLUDED.popularity, source_file = EXCLUDED.source_file,
                source_line = EXCLUDED.source_line
            WHERE (catalogue.source_file, catalogue.source_line)
                < (EXCLUDED.source_file, EXCLUDED.source_line)
            RETURNING 1
        )
        SELECT count(*) FROM upserted
        """,
        {"day": landing_file.partition_date, "file": landing_file.relative_path},
    ).fetchone()[0]
    staged = conn.execute("SELECT count(*) FROM stg_products").fetchone()[0]
    _refresh_current(conn, "SELECT sku FROM product_winners")
    return MergeResult(loaded=loaded, duplicate=staged - loaded)


def forget(conn: psycopg.Connection, landing_file: LandingFile) -> None:
    """Remove an earlier version of a catalogue file; its products fall back to other days."""
    conn.execute(
        """
        CREATE TEMP TABLE forgotten_products ON COMMIT DROP AS
        WITH deleted AS (
            DELETE FROM warehouse.product_catalogue WHERE source_file = %s RETURNING sku
        )
        SELECT DISTINCT sku FROM deleted
        """,
        (landing_file.relative_path,),
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
    staging=(STAGING,),
    to_staging=to_staging,
    merge=merge,
    forget=forget,
)


def run(settings: Settings | None = None, **options: Any) -> RunSummary:
    """Load every products landing file (options as for etl.runner.run: start, end, force)."""
    return runner.run(settings or Settings.from_env(), (DATASET.name,), **options)


def main() -> None:
    standalone_main(DATASET)


if __name__ == "__main__":
    main()
