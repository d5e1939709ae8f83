"""dlt (`dlt[postgres]`): the same files as a resource merged on the primary key.

dlt infers its own tables (transactions, and transactions__purchases__products for the nested
lines) in a dataset of its own; nothing is validated or cleaned. It loads with its csv loader
file format (COPY), the fastest of the formats its postgres destination supports that need no
extra driver: insert_values is its slower default, parquet needs ADBC and pyarrow.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson
from psycopg.conninfo import conninfo_to_dict

from bench.loaders import DATASET, Loaded, LoadOptions, transaction_files

# Records yielded to dlt at a time: dlt extracts lists much faster than single items.
_PAGE_RECORDS = 5000


def load(database_url: str, raw_data: Path, options: LoadOptions) -> Loaded:
    """Run a dlt pipeline over the transaction files; return the records extracted."""
    # dlt reads its configuration from the environment; no telemetry leaves the machine.
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["NORMALIZE__WORKERS"] = str(options.workers)
    import dlt  # after the environment is set

    files = [f.path for f in transaction_files(raw_data, options)]
    counted = [0]

    @dlt.resource(name=DATASET, write_disposition="merge", primary_key="transaction_id")
    def transactions() -> Iterator[list[dict]]:
        page: list[dict] = []
        for path in files:
            with gzip.open(path, "rb") as handle:
                for line in handle:
                    page.append(orjson.loads(line))
                    if len(page) >= _PAGE_RECORDS:
                        counted[0] += len(page)
                        yield page
                        page = []
        counted[0] += len(page)
        yield page

    pipeline = dlt.pipeline(
        pipeline_name="bench_transactions",
        destination=dlt.destinations.postgres(credentials=_url(database_url)),
        dataset_name="dlt_bench",
        pipelines_dir=tempfile.mkdtemp(prefix="bench-dlt-"),
    )
    pipeline.run(transactions(), loader_file_format="csv")
    return Loaded(counted[0])


def _url(conninfo: str) -> str:
    """The postgresql:// URL dlt wants, from a libpq conninfo of either form.

    A socket directory (the embedded server's host) goes in the query string. dlt insists on a
    password: a server with trust authentication (the embedded one) never asks for it.
    """
    params = conninfo_to_dict(conninfo)
    user, password = params.get("user", ""), params.get("password") or "unused"
    host, port, dbname = params.get("host", ""), params.get("port", "5432"), params["dbname"]
    auth = f"{user}:{password}@"
    if host.startswith("/"):
        return f"postgresql://{auth}localhost:{port}/{dbname}?host={host}"
    return f"postgresql://{auth}{host}:{port}/{dbname}"
