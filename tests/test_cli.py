"""The `warehouse` command and the standalone dataset modules, as a user runs them."""

import json
import subprocess
import sys

from click.testing import CliRunner

from etl.cli import main as warehouse
from etl.settings import PROJECT_DIR
from tests import landing_zone as lz


def _invoke(args, database_url, tmp_path):
    env = {"DATABASE_URL": database_url, "WAREHOUSE_HOME": str(tmp_path / "home")}
    return CliRunner().invoke(warehouse, args, env=env, catch_exceptions=False)


def test_run_status_and_quarantine(tmp_path, database_url):
    landing = tmp_path / "landing"
    lz.write(landing, "customers", [lz.customer("000001"), b"{not json"])
    result = _invoke(["run", "--raw-data", str(landing)], database_url, tmp_path)
    assert result.exit_code == 0
    assert "customers: files 1 loaded; records read 2, loaded 1, duplicate 0, quarantined 1" in (
        result.output
    )
    again = _invoke(["run", "--raw-data", str(landing)], database_url, tmp_path)
    assert "customers: files 1 unchanged; records read 0" in again.output

    status = json.loads(_invoke(["status", "--json"], database_url, tmp_path).output)
    assert status["customers"]["rows"] == 1
    assert status["customers"]["quarantined"] == 1
    text = _invoke(["status"], database_url, tmp_path).output
    assert "customers: 1 partitions, 1 files (0 rejected, 0 failed), 1 rows" in text

    listed = _invoke(["quarantine", "list"], database_url, tmp_path).output
    assert listed.startswith("date=2020-01-01/hour=00/customers.json.gz:2  $: malformed JSON")
    shown = _invoke(
        ["quarantine", "show", "date=2020-01-01/hour=00/customers.json.gz", "2"],
        database_url,
        tmp_path,
    ).output
    assert "payload:\n{not json" in shown
    missing = CliRunner().invoke(
        warehouse,
        ["quarantine", "show", "nowhere", "1"],
        env={"DATABASE_URL": database_url},
    )
    assert missing.exit_code == 1 and "nothing quarantined at nowhere:1" in missing.output


def test_bad_date_is_a_clear_usage_error(tmp_path, database_url):
    result = CliRunner().invoke(warehouse, ["run", "--start", "2020-02-30"])
    assert result.exit_code == 2
    assert "'2020-02-30' is not a date (YYYY-MM-DD)" in result.output


def test_production_without_a_key_refuses_to_start(database_url):
    result = CliRunner().invoke(
        warehouse,
        ["status"],
        env={"DATABASE_URL": database_url, "WAREHOUSE_ENV": "production"},
    )
    assert result.exit_code == 1
    assert "WAREHOUSE_PSEUDONYM_KEY" in result.output


def test_db_url_and_migrate(tmp_path, database_url):
    assert _invoke(["db", "url"], database_url, tmp_path).output.strip() == database_url
    assert _invoke(["db", "migrate"], database_url, tmp_path).output.strip() == "up to date"


def test_each_dataset_module_runs_alone(tmp_path, database_url):
    lz.write(tmp_path, "products", [lz.product(1)])
    env = {"DATABASE_URL": database_url, "PATH": "", "WAREHOUSE_HOME": str(tmp_path / "home")}
    for module in ("products_etl", "customers_etl", "transactions_etl", "erasure_requests_etl"):
        result = subprocess.run(
            [sys.executable, "-m", f"etl.{module}", "--raw-data", str(tmp_path)],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        if module == "products_etl":
            assert "products: files 1 loaded; records read 1, loaded 1" in result.stdout
        else:
            assert result.stdout.strip() == "no landing files matched"
