"""The HTTP API fuzzed against its own OpenAPI document with schemathesis: the app in-process, on
the loaded sample, with every default check (no 500, only documented statuses, content types,
headers and bodies, invalid data rejected, valid data accepted)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import settings
from schemathesis.python.asgi import shutdown_lifespans

from api.app import create_app
from api.database import analyst_url
from api.settings import ApiSettings
from etl.settings import PROJECT_DIR

TOKEN = "test-token-for-the-fuzzed-api"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# The file `schemathesis run` reads too: what the document cannot state (the start..end rule).
CONFIG = PROJECT_DIR / "schemathesis.toml"


@pytest.fixture(scope="module")
def api_schema(loaded_sample: str) -> Iterator[schemathesis.BaseSchema]:
    app = create_app(ApiSettings(token=TOKEN, database_url=analyst_url(loaded_sample)))
    yield schemathesis.openapi.from_asgi(
        "/openapi.json", app, config=schemathesis.Config.from_path(CONFIG)
    )
    # schemathesis keeps the app started; stopping it closes its pool before the session drops
    # the database under it.
    shutdown_lifespans()


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32.5's from_fixture reads Node._nodeid, which pytest 9.2 no longer has.
    request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


def range_rule_only(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """A request valid by the document is refused only for the rule it cannot state: a 422 to
    valid data (allowed by schemathesis.toml) must be about start..end, and nothing else."""
    if case.meta and case.meta.generation.mode.is_positive and response.status_code == 422:
        errors = response.json()["errors"]
        assert [error["parameter"] for error in errors] == ["end"], errors
        assert "is after end" in errors[0]["message"] or "spans" in errors[0]["message"], errors


@schema.parametrize()
# The same cases on every run (derandomized, no example database), about 1,100 requests in all
# (the coverage phase's boundary cases besides these), and no deadline: a query may take a while.
@settings(max_examples=30, derandomize=True, database=None, deadline=None)
def test_the_api_keeps_to_its_openapi_document(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=AUTH, additional_checks=[range_rule_only])
