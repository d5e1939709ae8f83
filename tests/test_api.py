"""The HTTP API, started as a real server process on a free port and called over HTTP: token
required, stable pages, correct filters, 4xx for bad input, 503 when the database is gone."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from etl.settings import PROJECT_DIR, SQL_SCRIPTS_DIR
from etl.warehouse.migrations import migrate
from tests.conftest import TEST_KEY

TOKEN = "test-token-for-the-api-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def api_server(env: dict[str, str]) -> Iterator[str]:
    """Run `python -m api` (what `warehouse-api` runs) until the block ends; yield its URL."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "--port", str(port)],
        cwd=PROJECT_DIR,
        env={"PATH": os.environ["PATH"], "WAREHOUSE_API_DATABASE_TIMEOUT": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"the API exited with {process.returncode}:\n{process.stdout.read()}")
            try:
                httpx.get(f"{base}/health", timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def _start_fails(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "api", "--port", str(_free_port())],
        cwd=PROJECT_DIR,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _analyst(url: str) -> str:
    return make_conninfo(url, user="warehouse_analyst")


@pytest.fixture(scope="module")
def api(loaded_sample) -> Iterator[httpx.Client]:
    env = {"WAREHOUSE_API_TOKEN": TOKEN, "WAREHOUSE_API_DATABASE_URL": _analyst(loaded_sample)}
    with api_server(env) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def marts(loaded_sample) -> Iterator[psycopg.Connection]:
    """The marts read directly, to compare the API's answers with."""
    with psycopg.connect(loaded_sample, autocommit=True) as conn:
        yield conn


def _get(api: httpx.Client, path: str, **params) -> dict:
    response = api.get(path, params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def _all_pages(api: httpx.Client, path: str, **params) -> list[dict]:
    page = _get(api, path, **params)
    rows = page["data"]
    while page["next"]:
        response = api.get(page["next"], headers=AUTH)
        assert response.status_code == 200, response.text
        page = response.json()
        rows.extend(page["data"])
    return rows


def test_health_needs_no_token(api):
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_every_route_needs_the_token(api):
    paths = [path for path in api.get("/openapi.json").json()["paths"] if path.startswith("/v1")]
    assert len(paths) == 10
    for path in paths:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = api.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.headers["www-authenticate"] == "Bearer"
            assert "bearer token" in response.json()["detail"]
        assert api.get(path, headers=AUTH).status_code == 200, path


def test_docs_are_served(api):
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert api.get("/openapi.json").json()["info"]["title"] == "Retail warehouse marts"


def test_daily_sales_are_the_mart_rows_of_the_range(api, marts):
    body = _get(api, "/v1/sales/daily", start="2020-01-10", end="2020-01-12")
    expected = marts.execute(
        """
        SELECT sales_date::text, orders, items, units, revenue::text, customers,
               average_order_value::text
        FROM marts.daily_sales WHERE sales_date BETWEEN '2020-01-10' AND '2020-01-12'
        ORDER BY 1
        """
    ).fetchall()
    assert [tuple(row.values()) for row in body["data"]] == expected
    assert len(expected) == 3 and body["next"] is None


def test_pages_are_stable_and_cover_every_row_once(api, marts):
    whole = _get(api, "/v1/sales/hourly", limit=1000)["data"]
    paged = _all_pages(api, "/v1/sales/hourly", limit=50)
    assert paged == whole == _all_pages(api, "/v1/sales/hourly", limit=50)
    assert len(whole) == marts.execute("SELECT count(*) FROM marts.hourly_sales").fetchone()[0]
    keys = [(row["sales_date"], row["sales_hour"]) for row in paged]
    assert keys == sorted(set(keys))
    # Ranked lists break ties by key, so their pages are stable too.
    products = _all_pages(api, "/v1/products", limit=100)
    assert (
        products
        == _get(api, "/v1/products", limit=1000)["data"]
        + _get(api, "/v1/products", limit=1000, offset=1000)["data"]
        + _get(api, "/v1/products", limit=1000, offset=2000)["data"]
    )
    assert len({row["sku"] for row in products}) == len(products) == 2480


def test_product_filters_and_ranking(api, marts):
    body = _all_pages(
        api, "/v1/products", start="2020-01-08", end="2020-01-14", category="vitamin", sort="units"
    )
    expected = marts.execute(
        """
        SELECT s.sku, sum(s.units), sum(s.revenue)
        FROM marts.product_daily_sales s JOIN warehouse.products p USING (sku)
        WHERE s.sales_date BETWEEN '2020-01-08' AND '2020-01-14' AND p.category = 'vitamin'
        GROUP BY s.sku ORDER BY 2 DESC, 1
        """
    ).fetchall()
    assert [(r["sku"], r["units"], Decimal(r["revenue"])) for r in body] == expected
    assert {row["category"] for row in body} == {"vitamin"}
    categories = _get(api, "/v1/products/categories", start="2020-01-08", end="2020-01-14")
    vitamin = next(row for row in categories["data"] if row["category"] == "vitamin")
    assert Decimal(vitamin["revenue"]) == sum(revenue for _, _, revenue in expected)
    assert _get(api, "/v1/products/price-changes", sku=10088)["data"] == []


def test_area_customer_and_quality_filters(api, marts):
    irish = _all_pages(
        api, "/v1/areas/revenue", level="postcode_district", country="Republic of Ireland",
        start="2020-01-01", end="2020-01-31",
    )  # fmt: skip
    expected = marts.execute(
        """
        SELECT postcode_district, sum(revenue) FROM marts.area_daily_sales
        WHERE country = 'Republic of Ireland' GROUP BY 1 ORDER BY 2 DESC, 1
        """
    ).fetchall()
    assert [(row["area"], Decimal(row["revenue"])) for row in irish] == expected
    top_cities = _get(api, "/v1/areas/customers", limit=3)["data"]
    assert [row["customers"] for row in top_cities] == sorted(
        (row["customers"] for row in top_cities), reverse=True
    )
    health = _all_pages(api, "/v1/customers", segment="health", repeat_customer="true")
    assert {(row["segment"], row["repeat_customer"]) for row in health} == {("health", True)}
    assert (
        len(health)
        == marts.execute(
            "SELECT count(*) FROM marts.customer_segments WHERE segment = 'health' AND orders > 1"
        ).fetchone()[0]
    )
    segments = _get(api, "/v1/customers/segments")["data"]
    assert sum(row["orders"] for row in segments) == 10_000
    quality = _all_pages(api, "/v1/data-quality", dataset="transactions", start="2020-01-29")
    assert [row["partition_date"] for row in quality] == ["2020-01-29", "2020-01-30", "2020-01-31"]
    assert quality[0]["records_duplicate"] == 36


DAILY, HOURLY = "/v1/sales/daily", "/v1/sales/hourly"
BAD_INPUT = {
    "start-after-end": (DAILY, {"start": "2020-02-01", "end": "2020-01-01"},
                        "end: start 2020-02-01 is after end 2020-01-01"),
    "impossible-date": (DAILY, {"start": "2020-13-01"}, "start: Input should be a valid date"),
    "unix-time": (DAILY, {"start": "1577836800"}, "start: '1577836800' is not a date: use YYYY-"),
    "range-too-long": (DAILY, {"start": "2019-01-01", "end": "2020-01-31"},
                       "end: start..end spans 396 days; ask for at most 366 at a time"),
    "limit-zero": (HOURLY, {"limit": "0"}, "limit: Input should be greater than or equal to 1"),
    "limit-too-big": (HOURLY, {"limit": "5000"}, "limit: Input should be less than or equal"),
    "negative-offset": (HOURLY, {"offset": "-1"}, "offset: Input should be greater than or"),
    "unknown-parameter": (DAILY, {"strat": "2020-01-01"}, "strat: unknown parameter"),
    "unknown-level": ("/v1/areas/revenue", {"level": "street"},
                      "level: Input should be 'city' or 'postcode_district'"),
    "unknown-sort": ("/v1/products", {"sort": "price"}, "sort: Input should be 'revenue', "),
    "sku-not-a-number": ("/v1/products/price-changes", {"sku": "abc"},
                         "sku: Input should be a valid integer"),
    "unknown-dataset": ("/v1/data-quality", {"dataset": "orders"}, "dataset: Input should be"),
    # Numbers and text the database cannot take: each once reached it and came back as a 500.
    "offset-beyond-bigint": ("/v1/data-quality", {"offset": "19005081305397690630144"},
                             "offset: Input should be less than or equal to 9223372036854775807"),
    "sku-beyond-integer": ("/v1/products/price-changes", {"sku": "2147483648"},
                           "sku: Input should be less than or equal to 2147483647"),
    "nul-in-a-filter": ("/v1/products", {"category": "vita\x00min"},
                        "category: String should match pattern"),
}  # fmt: skip


@pytest.mark.parametrize(("path", "params", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_gets_a_422_that_says_what_is_wrong(api, path, params, message):
    response = api.get(path, params=params, headers=AUTH)
    assert response.status_code == 422
    body = response.json()
    assert message in body["detail"], body
    assert body["errors"] and all({"parameter", "message"} <= set(e) for e in body["errors"])


def test_the_largest_offset_is_an_empty_last_page(api):
    body = _get(api, "/v1/data-quality", offset=str(2**63 - 1))
    assert body["data"] == [] and body["next"] is None


def test_the_document_declares_the_error_bodies_the_api_sends(api):
    document = api.get("/openapi.json").json()
    errors = {"401": "ErrorMessage", "422": "InvalidRequest", "503": "ErrorMessage"}
    for path, operations in document["paths"].items():
        bodies = {
            status: response["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
            for status, response in operations["get"]["responses"].items()
            if status != "200"
        }
        assert bodies == ({"503": "ErrorMessage"} if path == "/health" else errors), path
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_unknown_path_is_a_404(api):
    assert api.get("/v1/nothing", headers=AUTH).status_code == 404


def test_a_missing_database_gives_a_503_not_a_stack_trace(new_database, server_url):
    url = new_database()
    with psycopg.connect(url) as conn:
        migrate(conn)
    env = {"WAREHOUSE_API_TOKEN": TOKEN, "WAREHOUSE_API_DATABASE_URL": _analyst(url)}
    with api_server(env) as base, httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/v1/sales/daily", headers=AUTH).json()["data"] == []
        name = conninfo_to_dict(url)["dbname"]
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        started = time.monotonic()
        for path in ("/v1/sales/daily", "/health", "/v1/customers/segments"):
            response = client.get(path, headers=AUTH)
            assert response.status_code == 503, response.text
            assert response.json() == {
                "detail": "the warehouse database is unavailable; try again shortly"
            }
            assert response.headers["retry-after"] == "10"
        # each within the 1 s database timeout the server was given, plus slack
        assert time.monotonic() - started < 10
        # Back again: the next requests are served without restarting the API.
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(url) as conn:
            migrate(conn)
        back = time.monotonic()
        while client.get("/health").status_code != 200:
            assert time.monotonic() - back < 30, "the API did not recover"
        assert client.get("/v1/sales/daily", headers=AUTH).json()["data"] == []


def test_a_warehouse_without_marts_gives_a_503_that_says_so(new_database, tmp_path):
    url = new_database()
    for script in ("001_warehouse.sql", "002_privacy.sql"):
        shutil.copy(SQL_SCRIPTS_DIR / script, tmp_path)
    with psycopg.connect(url) as conn:
        migrate(conn, tmp_path)
    env = {"WAREHOUSE_API_TOKEN": TOKEN, "WAREHOUSE_API_DATABASE_URL": _analyst(url)}
    with api_server(env) as base:
        response = httpx.get(f"{base}/v1/sales/daily", headers=AUTH, timeout=10)
    assert response.status_code == 503
    assert response.json() == {
        "detail": "the warehouse has no marts yet: run `warehouse db migrate`"
    }


def test_an_unreachable_server_gives_a_503():
    url = f"postgresql://warehouse_analyst@127.0.0.1:{_free_port()}/warehouse"
    env = {"WAREHOUSE_API_TOKEN": TOKEN, "WAREHOUSE_API_DATABASE_URL": url}
    with api_server(env) as base:
        response = httpx.get(f"{base}/v1/sales/daily", headers=AUTH, timeout=10)
        assert response.status_code == 503
        assert "unavailable" in response.json()["detail"]
        assert httpx.get(f"{base}/v1/sales/daily", timeout=10).status_code == 401


def test_the_api_refuses_to_start_without_a_token(loaded_sample):
    result = _start_fails({"WAREHOUSE_API_DATABASE_URL": _analyst(loaded_sample)})
    assert result.returncode == 1
    assert "WAREHOUSE_API_TOKEN is not set" in result.stderr


def test_the_api_refuses_a_role_that_can_read_personal_data(loaded_sample):
    result = _start_fails(
        {"WAREHOUSE_API_TOKEN": TOKEN, "WAREHOUSE_API_DATABASE_URL": loaded_sample}
    )
    assert result.returncode == 1
    assert "can read personal data (pii, privacy" in result.stderr


def test_from_the_pipelines_database_url_it_connects_as_the_analyst(loaded_sample):
    env = {
        "WAREHOUSE_API_TOKEN": TOKEN,
        "DATABASE_URL": loaded_sample,
        "WAREHOUSE_PSEUDONYM_KEY": TEST_KEY.decode(),
    }
    with api_server(env) as base:
        assert httpx.get(f"{base}/v1/sales/daily", headers=AUTH, timeout=10).status_code == 200
        with psycopg.connect(loaded_sample, autocommit=True) as conn:
            roles = conn.execute(
                "SELECT DISTINCT usename FROM pg_stat_activity "
                "WHERE application_name = 'warehouse-api' AND datname = current_database()"
            ).fetchall()
    assert roles == [("warehouse_analyst",)]
