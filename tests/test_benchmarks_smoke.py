"""Smoke test of `benchmarks/run.py --smoke`: tiny synthetic data, every section runs
and the JSON report has the expected keys (no Multi30k needed)."""

import importlib.util
import json
import os

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_PY = os.path.join(REPO_ROOT, "benchmarks", "run.py")


def _load_run():
    spec = importlib.util.spec_from_file_location("benchmarks_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_benchmark_smoke_json(tmp_path):
    run = _load_run()
    path = tmp_path / "bench.json"
    run.main(["--smoke", "--json", str(path)])
    results = json.loads(path.read_text())

    assert results["mode"] == "smoke"
    assert results["settings"]["data"] is None  # synthetic: no files read
    for key in ("meta", "settings", "training", "flops", "memory", "decoding",
                "data_pipeline", "targets", "total_seconds"):
        assert key in results, key
    for key in ("nproc", "cpu", "tensorflow", "keras", "date"):
        assert key in results["meta"], key

    main = results["training"]["main"]
    rows = {row["id"]: row for row in main["rows"]}
    assert {"baseline", "ours_r1", "ours_token_0.5"} <= set(rows)
    for row in rows.values():
        assert row["ok"], row
        assert row["tokens_per_second"] > 0
        assert 0 < row["matmul_fraction"]
    assert rows["ours_r1"]["vs_reference"]["reference"] == "baseline"
    assert rows["ours_r1"]["vs_reference"]["ratio"] > 0
    assert rows["ours_token_0.5"]["vs_secondary"]["reference"] == "ours_r1"
    assert main["matmul_gflops_per_second"] > 0

    memory = {row["id"]: row for row in results["memory"]["rows"]}
    assert set(memory) == {"baseline", "ours_r1"}
    assert memory["baseline"]["peak_ratio_vs_reference"] == pytest.approx(1.0)
    assert memory["ours_r1"]["training_peak_rss_mib"] > 0

    methods = {row["method"] for row in results["decoding"]["rows"]}
    assert "greedy" in methods
    assert results["decoding"]["latency"]["p50_ms"] > 0

    assert results["data_pipeline"]["train_step_ms"] > 0
    assert [t["target"] for t in results["targets"]] == [
        "ours_r1 throughput vs baseline", "token-level 0.5 vs ours_r1",
        "ours_r1 fraction of matmul rate", "ours_r1 peak RSS vs baseline"]
