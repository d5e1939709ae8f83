"""The benchmark harness end to end at a tiny size, so it keeps working (timings not checked)."""

import json

import pytest

from bench.__main__ import main as bench_main
from bench.loaders import LOADERS


@pytest.fixture(scope="module")
def bench_results(tmp_path_factory, server_url):
    out = tmp_path_factory.mktemp("bench")
    with pytest.raises(SystemExit) as exited:
        bench_main(
            [
                "--sizes", "600", "--shapes", "feed=60,large=300", "--repeats", "2",
                "--workers", "2",
                "--row-by-row-cap", "0.5", "--database-url", server_url, "--out", str(out),
            ]
        )  # fmt: skip
    assert exited.value.code == 0
    return out


def test_every_loader_is_measured_at_every_size(bench_results):
    results = json.loads((bench_results / "results.json").read_text())
    assert [(size["shape"], size["size"]) for size in results["sizes"]] == [
        ("feed", 600),
        ("large", 600),
    ]
    feed, large = results["sizes"]
    assert feed["files"] == 10 * 24 > large["files"] == 2 * 24  # the same records, smaller files
    for size in results["sizes"]:
        assert set(size["loaders"]) == set(LOADERS)
        for name, entry in size["loaders"].items():
            assert len(entry["runs"]) == 2, name
            assert entry["records_per_second"] > 0, name
            assert entry["peak_rss_mb"] > 0, name
            assert entry["rows_loaded_as_expected"], name
        assert size["loaders"]["bare_copy"]["ratio_to_limit"] == 1


def test_growth_loads_day_after_day_into_one_warehouse(bench_results):
    growth = json.loads((bench_results / "results.json").read_text())["growth"]
    assert [batch["batch"] for batch in growth["batches"]] == [1, 2]
    for name in ("pipeline", "bare_copy"):
        first, second = (batch["loaders"][name] for batch in growth["batches"])
        assert second["rows_before"] == first["records"] > 0
        # the test server lets the harness checkpoint before every batch
        assert first["after_checkpoint"] and second["after_checkpoint"]
        assert second["database_mb_after"] >= first["database_mb_after"] > 0


def test_results_come_as_markdown_and_a_plot(bench_results):
    table = (bench_results / "results.md").read_text()
    assert "| Files | Transactions | Loader |" in table
    feed = json.loads((bench_results / "results.json").read_text())["sizes"][0]
    assert f"Feed files, {feed['transactions']:,} transactions in 240 files" in table
    assert "row by row" in table
    assert (bench_results / "throughput.png").read_bytes().startswith(b"\x89PNG")
