"""Property: for any set of generated partitions, loading them in any order, any number of
times, split into any runs, gives the warehouse one chronological run gives.

Records come from small pools of ids so that files collide: a customer updated in several
hours, a transaction sent again, a catalogue per day, erasure requests before and after the
customer arrives, broken lines. The fast variant tries 15 examples; the slow one
RELIABILITY_ITERATIONS (default 300).
"""

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.datasets import dataset
from etl.loading.file_load import load_files
from etl.source import landing
from tests import landing_zone as lz
from tests.conftest import TEST_KEY, load, order_free_checksums

CUSTOMER_IDS = ["000001", "000002", "000003", "000004"]
TRANSACTION_IDS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 7)]
PRICES = ["1.00", "2.50", "10.00"]

_products = st.builds(
    lambda sku, price, name: lz.product(sku, price=price, name=name),
    st.integers(1, 5),
    st.sampled_from(PRICES),
    st.sampled_from(["Vitamin C", "Zinc", None]),
)
# An e-mail is the customer's own (erasure requests match it): each id keeps one.
_customers = st.builds(
    lambda customer_id, changed, city: lz.customer(
        customer_id, last_change=f"2020-01-0{changed}", city=city
    ),
    st.sampled_from(CUSTOMER_IDS),
    st.integers(1, 4),
    st.sampled_from(["Cork", "Leeds", "Bath"]),
)
_transactions = st.builds(
    lambda transaction_id, customer_id, lines: lz.transaction(transaction_id, customer_id, lines),
    st.sampled_from(TRANSACTION_IDS),
    st.sampled_from([*CUSTOMER_IDS, "000099"]),  # 000099 never arrives: an orphan
    st.lists(
        st.tuples(st.integers(1, 6), st.integers(1, 3), st.sampled_from(PRICES)),
        min_size=1,
        max_size=3,
    ).map(tuple),
)
_erasure_requests = st.builds(
    lambda customer_id, own_email: {
        "customer-id": customer_id,
        "email": f"person{customer_id}@example.com" if own_email else "someone@example.com",
    },
    st.sampled_from(CUSTOMER_IDS),
    st.booleans(),
)
_broken_lines = st.sampled_from(
    [b'{"id": "000001", "broken', b"[1, 2]", b'{"sku": 1e30}', b'{"a": 1, "a": 2}']
)
RECORDS = {
    "products": _products,
    "customers": _customers,
    "transactions": _transactions,
    "erasure-requests": _erasure_requests,
}


@st.composite
def landing_zones(draw):
    """{(dataset, day, hour, gzipped): records}: a few files of a few records each."""
    files = {}
    for _ in range(draw(st.integers(1, 7))):
        name = draw(st.sampled_from(landing.DATASETS))
        day = draw(st.integers(1, 3))
        hour = 0 if name == "products" else draw(st.integers(0, 2))
        records = draw(st.lists(RECORDS[name] | _broken_lines, max_size=4))
        files[(name, day, hour, draw(st.booleans()))] = records
    return files


def _write(root, files):
    for (name, day, hour, gz), records in files.items():
        lz.write(root, name, records, f"2020-01-0{day}", hour, gz)
    return landing.discover(root)


def _empty(url):
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            """
            SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') FROM pg_tables
            WHERE schemaname IN ('warehouse', 'pii', 'ops', 'privacy')
              AND tablename NOT IN ('schema_migrations', 'schema_definitions')
            """
        ).fetchone()[0]
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY")


def _load_in_runs(url, root, files, runs):
    """Each run either loads its files in the order drawn (a new connection), each alone or in
    batches (consecutive files of one dataset), or is a `warehouse run` over a landing zone
    holding only its files (chronological)."""
    for files_of_run, through_runner, batched in runs:
        if through_runner:
            with tempfile.TemporaryDirectory() as part:
                for index in files_of_run:
                    target = Path(part) / files[index].relative_path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(files[index].path, target)
                assert load(url, Path(part)).ok
            continue
        with psycopg.connect(url, autocommit=True) as conn:
            for batch in _batches([files[index] for index in files_of_run], batched):
                load_files(conn, dataset(batch[0].dataset), batch, TEST_KEY)


def _batches(files, batched):
    """The files in order, each alone, or in runs of one dataset's files (each file once)."""
    batch = []
    for landing_file in files:
        if batch and not (
            batched and landing_file.dataset == batch[0].dataset and landing_file not in batch
        ):
            yield batch
            batch = []
        batch.append(landing_file)
    if batch:
        yield batch


def _check(database_url, zone, data):
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        files = _write(root, zone)
        n = len(files)
        sequence = data.draw(st.permutations(range(n)), label="order")
        repeats = data.draw(st.lists(st.integers(0, n - 1), max_size=n), label="repeated")
        sequence = data.draw(st.permutations([*sequence, *repeats]), label="order with repeats")
        cuts = data.draw(st.sets(st.integers(1, max(1, len(sequence) - 1))), label="run splits")
        bounds = [0, *sorted(c for c in cuts if c < len(sequence)), len(sequence)]
        runs = [
            (
                sequence[start:end],
                data.draw(st.booleans(), label="through the runner"),
                data.draw(st.booleans(), label="in batches"),
            )
            for start, end in itertools.pairwise(bounds)
        ]

        _empty(database_url)
        assert load(database_url, root).ok
        expected = order_free_checksums(database_url)

        _empty(database_url)
        _load_in_runs(database_url, root, files, runs)
        assert order_free_checksums(database_url) == expected


_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@settings(max_examples=15, **_SETTINGS)
@given(zone=landing_zones(), data=st.data())
def test_any_order_repetition_and_split_gives_the_same_warehouse(database_url, zone, data):
    _check(database_url, zone, data)


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("RELIABILITY_ITERATIONS", 300)), **_SETTINGS)
@given(zone=landing_zones(), data=st.data())
def test_any_order_repetition_and_split_gives_the_same_warehouse_many_times(
    database_url, zone, data
):
    _check(database_url, zone, data)
