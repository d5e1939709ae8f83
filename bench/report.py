"""Measurements into results (medians, spread, rates, ratios) as JSON, Markdown and a PNG."""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.inputs import Input
from bench.loaders import LIMIT, LOADERS
from bench.measure import Measurement

_TITLES = {
    "bare_copy": "bare COPY (the limit)",
    "pipeline": "pipeline (this project)",
    "warehouse_run": "`warehouse run` (whole process)",
    "dlt": "dlt, merge",
    "row_by_row": "row by row (jsonschema.validate)",
    "row_by_row_compiled": "row by row (validator built once)",
}


def summarise_size(prepared: Input, runs: dict[str, list[Measurement]]) -> dict[str, Any]:
    """One size's results: per loader the median time, spread, rate, ratio to the limit, memory.

    A capped run's time is extrapolated to the whole input from the rate it kept until the cap.
    """
    loaders = {}
    for loader, measurements in runs.items():
        seconds = [_full_seconds(m, prepared.transactions) for m in measurements]
        median = statistics.median(seconds)
        loaders[loader] = {
            "runs": [asdict(m) for m in measurements],
            "median_seconds": round(median, 3),
            "min_seconds": round(min(seconds), 3),
            "max_seconds": round(max(seconds), 3),
            "spread_pct": round(100 * (max(seconds) - min(seconds)) / median, 1),
            "records_per_second": round(prepared.transactions / median),
            "peak_rss_mb": max(m.peak_rss_mb for m in measurements),
            "max_process_rss_mb": max(m.max_process_rss_mb for m in measurements),
            "extrapolated": any(m.capped for m in measurements),
            "rows_loaded_as_expected": all(
                m.capped or m.rows_loaded == prepared.transactions for m in measurements
            ),
        }
    if LIMIT in loaders:
        limit_rate = loaders[LIMIT]["records_per_second"]
        for entry in loaders.values():
            entry["ratio_to_limit"] = round(entry["records_per_second"] / limit_rate, 3)
    return {**prepared.as_dict(), "loaders": loaders}


def summarise_growth(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Loaders filling one warehouse each, batch after batch: how their rates hold up.

    `last_to_first` compares the last batch's rate with the first's, per loader; with the limit
    alongside, `ratio_to_limit` per batch shows how much of a change is the server's own.
    """
    first, last = batches[0]["loaders"], batches[-1]["loaders"]
    for batch in batches:
        limit = batch["loaders"].get(LIMIT)
        for entry in batch["loaders"].values():
            if limit:
                entry["ratio_to_limit"] = round(
                    entry["records_per_second"] / limit["records_per_second"], 3
                )
    return {
        "batches": batches,
        "last_to_first": {
            name: round(last[name]["records_per_second"] / first[name]["records_per_second"], 3)
            for name in first
        },
    }


def write(results: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write results.json, results.md and throughput.png into `out`; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "results.json",
        "markdown": out / "results.md",
        "plot": out / "throughput.png",
    }
    paths["json"].write_text(json.dumps(results, indent=2) + "\n")
    paths["markdown"].write_text(markdown(results))
    plot(results, paths["plot"])
    return paths


def markdown(results: dict[str, Any]) -> str:
    """The results as the Markdown docs/benchmarks.md quotes."""
    machine, server = results["machine"], results["server"]
    lines = [
        f"Run of {results['date']} on {machine['cores']} cores, {machine['memory_gib']} GiB "
        f"({machine['platform']}, Python {machine['python']}); PostgreSQL {server['version']} "
        f"({server['kind']}, shared_buffers {server.get('shared_buffers')}, "
        f"huge pages {server.get('huge_pages_status', 'unknown')}, "
        f"synchronous_commit {server.get('synchronous_commit')}). "
        f"{results['repeats']} runs of each loader per size, interleaved; "
        f"{results['workers']} worker processes for the loaders that use them.",
        "",
        f"Command: `{results['command']}`",
        "",
        "| Files | Transactions | Loader | Median s | Spread | Transactions/s | × limit "
        "| Peak MB |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in results["sizes"]:
        files = f"{size['files']:,} of {size['transactions'] / size['files']:,.0f}"
        for loader in LOADERS:
            entry = size["loaders"].get(loader)
            if entry is None:
                continue
            mark = "*" if entry["extrapolated"] else ""
            lines.append(
                f"| {files} | {size['transactions']:,} | {_TITLES[loader]} | "
                f"{entry['median_seconds']:.1f}{mark} | ±{entry['spread_pct'] / 2:.0f}% | "
                f"{entry['records_per_second']:,}{mark} | "
                f"{entry.get('ratio_to_limit', float('nan')):.2f} | {entry['peak_rss_mb']:.0f} |"
            )
    lines += [
        "",
        "Spread: half the range of the runs, relative to the median. Peak MB: the loader's "
        "processes together (workers included), sampled every 50 ms.",
    ]
    if any(e["extrapolated"] for s in results["sizes"] for e in s["loaders"].values()):
        lines.append(
            f"\\* stopped at its {max(results['caps'].values()):.0f} s cap; time extrapolated "
            "from the rate it kept until then."
        )
    lines += ["", *_comparison(results)]
    if results.get("growth"):
        lines += ["", *_growth_table(results["growth"])]
    return "\n".join(lines) + "\n"


def _comparison(results: dict[str, Any]) -> list[str]:
    """A sentence per shape: the pipeline (the whole process where measured) against the
    others, at the shape's largest size."""
    lines = []
    largest = {size.get("shape", ""): size for size in results["sizes"]}
    for shape, size in largest.items():
        loaders = size["loaders"]
        ours = next((name for name in ("warehouse_run", "pipeline") if name in loaders), None)
        if ours is None:
            continue
        rate = loaders[ours]["records_per_second"]
        parts = [
            f"{_times(rate / loaders[other]['records_per_second'])} {_TITLES[other]}"
            for other in LOADERS
            if other not in ("pipeline", "warehouse_run") and other in loaders
        ]
        lines.append(
            f"{shape.capitalize()} files, {size['transactions']:,} transactions in "
            f"{size['files']:,} files: {_TITLES[ours]} runs at " + ", ".join(parts) + "."
        )
    return lines


def _times(ratio: float) -> str:
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.0f}×"


def _growth_table(growth: dict[str, Any]) -> list[str]:
    names = list(growth["batches"][0]["loaders"])
    checkpointed = all(
        entry.get("after_checkpoint")
        for batch in growth["batches"]
        for entry in batch["loaders"].values()
    )
    lines = [
        "Growth: each loader loading one day (batch) after another into a warehouse of its own, "
        "one loader after the other"
        + (", each batch right after a checkpoint." if checkpointed else "."),
        "",
        "| Batch | Transactions already stored | "
        + " | ".join(f"{_TITLES[name]} transactions/s" for name in names)
        + (" | pipeline × limit |" if LIMIT in names and "pipeline" in names else " |"),
        "| ---: | ---: |" + " ---: |" * len(names) + (" ---: |" if LIMIT in names else ""),
    ]
    for batch in growth["batches"]:
        entries = batch["loaders"]
        cells = [f"{entries[name]['records_per_second']:,}" for name in names]
        if LIMIT in names and "pipeline" in names:
            cells.append(f"{entries['pipeline']['ratio_to_limit']:.2f}")
        before = entries[names[0]]["rows_before"]
        lines.append(f"| {batch['batch']} | {before:,} | " + " | ".join(cells) + " |")
    changes = ", ".join(
        f"{_TITLES[name]} {ratio:.2f}" for name, ratio in growth["last_to_first"].items()
    )
    lines += ["", f"Last batch's rate / first batch's: {changes}."]
    return lines


def plot(results: dict[str, Any], path: Path) -> None:
    """Throughput against size, one line per loader (hollow markers: extrapolated)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 4.2), dpi=100)
    shapes = list(dict.fromkeys(size.get("shape", "") for size in results["sizes"]))
    for (shape_number, shape), loader in itertools.product(enumerate(shapes), LOADERS):
        points = [
            (size["transactions"], size["loaders"][loader])
            for size in results["sizes"]
            if loader in size["loaders"] and size.get("shape", "") == shape
        ]
        if not points:
            continue
        sizes = [size for size, _ in points]
        rates = [entry["records_per_second"] for _, entry in points]
        # error bars from the slowest to the fastest run (never below zero: rates are rounded)
        low = [max(0, r - s / e["max_seconds"]) for r, (s, e) in zip(rates, points, strict=True)]
        high = [max(0, s / e["min_seconds"] - r) for r, (s, e) in zip(rates, points, strict=True)]
        hollow = any(entry["extrapolated"] for _, entry in points)
        axes.errorbar(
            sizes,
            rates,
            yerr=[low, high],
            marker="o",
            capsize=3,
            label=f"{_TITLES[loader]}, {shape} files" + (" (extrapolated)" if hollow else ""),
            markerfacecolor="white" if hollow else None,
            linestyle=("-", "--", ":")[shape_number % 3],
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("transactions loaded")
    axes.set_ylabel("transactions per second")
    axes.set_title(f"Load throughput, PostgreSQL {results['server']['version'].split()[0]}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _full_seconds(measurement: Measurement, transactions: int) -> float:
    if not measurement.capped:
        return measurement.seconds
    return measurement.seconds * transactions / max(measurement.records, 1)
