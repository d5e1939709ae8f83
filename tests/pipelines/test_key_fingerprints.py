"""A Dagster run started with a key the warehouse was not built with refuses to load."""

from dagster import AssetSelection, DagsterEventType, materialize

from pipelines.resources import PseudonymKey
from tests.pipelines.conftest import ASSETS


def test_a_run_with_another_pseudonym_key_fails_at_once_without_loading(loaded, conn):
    loads = conn.execute("SELECT count(*) FROM ops.load_log").fetchone()
    result = materialize(
        [ASSETS["customers"]],
        resources={**loaded, "pseudonym_key": PseudonymKey(key="another-key", environment="test")},
        partition_key="2020-01-02-03:00",
        selection=AssetSelection.assets(ASSETS["customers"]).without_checks(),
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith("WAREHOUSE_PSEUDONYM_KEY is not the key this warehouse was built")
    retried = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert retried == []
    assert conn.execute("SELECT count(*) FROM ops.load_log").fetchone() == loads
