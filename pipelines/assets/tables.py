"""What Dagster's catalog shows of the table each asset fills, in the metadata keys its UI
understands: the table's name on the asset's definition; with each materialisation, the table's
columns with their types and descriptions, read from the database's own catalog (so they are
never out of step with the DDL), and the rows the materialised partition holds in it."""

from collections.abc import Iterable

import psycopg
from dagster import MetadataValue, TableColumn, TableColumnConstraints, TableSchema

from etl.inspection import catalog
from pipelines.partitions import landing_partition

TABLE_NAME = "dagster/table_name"
COLUMN_SCHEMA = "dagster/column_schema"
ROW_COUNT = "dagster/row_count"


def definition_metadata(dataset: str) -> dict[str, str]:
    """The asset's own metadata: the warehouse table it fills (etl.inspection.catalog.TABLES)."""
    return {TABLE_NAME: catalog.TABLES[dataset]}


def column_schema(conn: psycopg.Connection, dataset: str) -> dict[str, MetadataValue]:
    """The columns of the dataset's table, as a materialisation's metadata."""
    columns = [
        TableColumn(
            column.name,
            column.type,
            description=column.description,
            constraints=TableColumnConstraints(nullable=column.nullable),
        )
        for column in catalog.columns(conn, catalog.TABLES[dataset])
    ]
    return {COLUMN_SCHEMA: MetadataValue.table_schema(TableSchema(columns=columns))}


def row_counts(
    conn: psycopg.Connection, dataset: str, partition_keys: Iterable[str]
) -> dict[str, dict[str, MetadataValue]]:
    """Per partition key, the rows its landing files hold in the dataset's table now.

    Each materialisation reports its partition, as every other count on it does: a count of
    the whole table would read all of it on every hourly run (a year of transactions at 100
    times the sample, 12 million ids: 0.8 s)."""
    keys = list(partition_keys)
    folders = catalog.rows_by_folder(conn, dataset, {landing_partition(key)[0] for key in keys})
    counts = {}
    for key in keys:
        day, hour = landing_partition(key)
        rows = sum(n for (d, h), n in folders.items() if d == day and hour in (None, h))
        counts[key] = {ROW_COUNT: MetadataValue.int(rows)}
    return counts
