"""Smoke tests of the benchmarks (`benchmarks/`): one `run.py --smoke` run on tiny
synthetic data (no Multi30k needed), shared by the tests below, which check that its
comparisons are between two different models, that its figures are positive, finite
and agree with the raw timings they summarise, and that the printed report has the
expected tables and rows; plus `--help` of every script (`cost_growth.py --smoke`,
`epoch_split.py --smoke` and `epoch_throughput.py --smoke` are run by hand: the suite
is near its time budget)."""

import contextlib
import importlib
import io
import json
import math

import numpy as np
import pytest

SCRIPTS = ("run", "training_speed", "flops", "peak_memory", "generate_speed",
           "data_pipeline", "xla_paths", "step_profile", "op_profile", "decoding_speed",
           "local_attention", "cost_growth", "epoch_split", "quality_curve",
           "matvec_precision", "epoch_throughput", "first_call", "export_time",
           "pinned_pair")
MAIN_IDS = ["baseline", "ours_r1", "ours_token_0.5"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """(the JSON results, the printed report) of `benchmarks/run.py --smoke`."""
    run = importlib.import_module("benchmarks.run")
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        run.main(["--smoke", "--json", str(path)])
    return json.loads(path.read_text()), printed.getvalue()


def markdown_tables(text):
    """{first header cell: [rows of cells]} of the Markdown tables in `text` (a later
    table with the same first header cell is keyed with a `#2`, `#3`... suffix)."""
    tables, block = {}, []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip("|").split("|")])
            continue
        if block:
            key, n = block[0][0], 1
            while key in tables:
                n += 1
                key = f"{block[0][0]}#{n}"
            tables[key] = block[2:]  # header and |---| rows dropped
            block = []
    return tables


def numbers(value, path="results"):
    """(path, number) of every int / float in a JSON structure (bools left out)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from numbers(item, f"{path}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


def main_rows(results):
    return {row["id"]: row for row in results["training"]["main"]["rows"]}


@pytest.mark.slow
def test_report_sections_and_settings(smoke):
    results, _ = smoke
    assert results["mode"] == "smoke"
    assert results["settings"]["data"] is None  # synthetic: no files read
    for key in ("meta", "settings", "training", "flops", "memory", "decoding",
                "data_pipeline", "targets", "total_seconds"):
        assert key in results, key
    for key in ("nproc", "cpu", "tensorflow", "keras", "date"):
        assert key in results["meta"], key
    assert "WordTokenizer" in results["settings"]["tokenizer"]
    assert [row["id"] for row in results["training"]["main"]["rows"]] == MAIN_IDS
    assert all(row["ok"] for row in results["training"]["main"]["rows"])


@pytest.mark.slow
def test_figures_are_positive_and_finite(smoke):
    results, _ = smoke
    found = list(numbers(results))
    assert len(found) > 100
    for path, value in found:
        assert math.isfinite(value), path
    rows = main_rows(results)
    for row in rows.values():
        for key in ("tokens_per_second", "gflops_per_second", "matmul_fraction",
                    "flops_per_round", "cpu_seconds_per_round"):
            assert row[key] > 0, (row["id"], key)
        assert all(t > 0 for per_round in row["step_seconds"] for t in per_round)
    assert results["training"]["main"]["matmul_gflops_per_second"] > 0
    for row in results["memory"]["rows"]:
        assert row["training_peak_rss_mib"] > row["rss_after_build_mib"] > 0, row["id"]
    for row in results["decoding"]["rows"]:
        assert row["sentences_per_second"] > 0
    pipe = results["data_pipeline"]
    for key in ("numpy_text_to_batch_ms", "numpy_padding_only_ms",
                "tfdata_ids_to_batch_ms", "train_step_ms"):
        assert pipe[key] > 0, key


@pytest.mark.slow
def test_training_ratios_compare_two_different_models(smoke):
    results, _ = smoke
    rows = main_rows(results)
    baseline, ours, token = rows["baseline"], rows["ours_r1"], rows["ours_token_0.5"]
    # The plain-Keras functional model against our Seq2Seq subclass, with exactly the
    # same trainable parameters (the architectures match weight for weight).
    assert baseline["model"] == "Functional"
    assert ours["model"] == token["model"] == "Seq2Seq"
    assert baseline["trainable_parameters"] == ours["trainable_parameters"] > 0
    assert baseline["step_seconds"] != ours["step_seconds"]
    # Each ratio is the median of (reference step / own step) over the step pairs.
    for row, ref, label in ((ours, baseline, "vs_reference"),
                            (token, baseline, "vs_reference"),
                            (token, ours, "vs_secondary")):
        entry = row[label]
        assert entry["reference"] == ref["id"]
        pairs = [a / b for ra, rb in zip(ref["step_seconds"], row["step_seconds"])
                 for a, b in zip(ra, rb)]
        assert entry["pairs"] == len(pairs) == 2
        assert entry["ratio"] == pytest.approx(float(np.median(pairs)))
        assert entry["range"][0] <= entry["ratio"] <= entry["range"][1]
    assert "vs_reference" not in baseline and "vs_secondary" not in ours
    tokens = results["training"]["main"]["tokens_per_round"]
    assert tokens == results["settings"]["tokens_per_round"] > 0
    for row in rows.values():
        assert row["tokens_per_second"] == pytest.approx(
            tokens / sum(row["step_seconds"][0]))


@pytest.mark.slow
def test_memory_children_built_the_two_models(smoke):
    results, _ = smoke
    memory = {row["id"]: row for row in results["memory"]["rows"]}
    assert list(memory) == ["baseline", "ours_r1"]
    assert memory["baseline"]["runs"][0]["model"] == "Functional"
    assert memory["ours_r1"]["runs"][0]["model"] == "Seq2Seq"
    parameters = main_rows(results)["ours_r1"]["trainable_parameters"]
    for row in memory.values():
        assert row["ok"] and row["runs"][0]["returncode"] == 0
        assert row["runs"][0]["trainable_parameters"] == parameters
    base, ours = memory["baseline"], memory["ours_r1"]
    assert ours["peak_ratio_vs_reference"] == pytest.approx(
        ours["training_peak_rss_mib"] / base["training_peak_rss_mib"])
    assert ours["increment_ratio_vs_reference"] == pytest.approx(
        ours["training_increment_mib"] / base["training_increment_mib"])


@pytest.mark.slow
def test_decoding_runs_the_forced_number_of_steps(smoke):
    results, _ = smoke
    decoding = results["decoding"]
    assert [row["method"] for row in decoding["rows"]] == ["greedy", "beam5"]
    for row in decoding["rows"]:
        # min_length = cap - 1 and max_length = cap: every hypothesis ends in between
        assert row["mean_cap"] - 1 <= row["mean_output_length"] <= row["mean_cap"]
    latency = decoding["latency"]
    assert latency["calls"] == 5
    assert 0 < latency["p50_ms"] <= latency["p99_ms"]


@pytest.mark.slow
def test_pipeline_tokenizes_with_the_package_tokenizer(smoke):
    results, _ = smoke
    pipe = results["data_pipeline"]
    assert pipe["tokenizer"] == "WordTokenizer"
    assert pipe["ids_match_timed_batches"] is True
    ours = main_rows(results)["ours_r1"]
    assert pipe["train_step_ms"] == pytest.approx(ours["step_seconds_median"] * 1e3)
    assert pipe["pipeline_fraction_of_step"] == pytest.approx(
        pipe["numpy_text_to_batch_ms"] / pipe["train_step_ms"])


@pytest.mark.slow
def test_targets_follow_the_figures(smoke):
    results, _ = smoke
    rows = main_rows(results)
    memory = {row["id"]: row for row in results["memory"]["rows"]}
    expected = {
        "ours_r1 throughput vs baseline": rows["ours_r1"]["vs_reference"]["ratio"],
        "token-level 0.5 vs ours_r1": rows["ours_token_0.5"]["vs_secondary"]["ratio"],
        "ours_r1 fraction of matmul rate": rows["ours_r1"]["matmul_fraction"],
        "ours_r1 peak RSS vs baseline": memory["ours_r1"]["peak_ratio_vs_reference"],
    }
    assert [t["target"] for t in results["targets"]] == list(expected)
    for target in results["targets"]:
        assert target["value"] == pytest.approx(expected[target["target"]])
        assert isinstance(target["met"], bool)


@pytest.mark.slow
def test_printed_report_has_the_expected_tables(smoke):
    results, printed = smoke
    tables = markdown_tables(printed)
    rows = main_rows(results)
    training = tables["config"]  # the first table: training throughput, main group
    assert [cells[0] for cells in training] == MAIN_IDS
    for cells in training:
        assert cells[1].startswith(f"{rows[cells[0]]['tokens_per_second']:,.0f} (")
    assert training[1][2].startswith(f"{rows['ours_r1']['vs_reference']['ratio']:.2f}×")
    flops_rows = tables["config#2"]
    assert [cells[0] for cells in flops_rows] == MAIN_IDS
    assert [cells[0] for cells in tables["config#3"]] == ["baseline", "ours_r1"]  # memory
    assert [cells[0] for cells in tables["method"]] == ["greedy @ batch 8",
                                                        "beam5 @ batch 8"]
    assert tables["piece"][0][0].startswith("WordTokenizer")
    assert [cells[0] for cells in tables["target"]] == [
        t["target"] for t in results["targets"]]
    for heading in ("## Training throughput", "## Achieved FLOP/s of training",
                    "## Peak memory of training", "## Decoding", "## XLA",
                    "## Data pipeline", "## Targets"):
        assert heading in printed, heading


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(script, capsys):
    module = importlib.import_module(f"benchmarks.{script}")
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage:") and "--json" in text


def test_quality_curve_reads_both_kinds_of_run_and_scores_the_reference(tmp_path, capsys):
    """benchmarks/quality_curve.py: our results.json + log, the reference's JSON line
    and hypotheses (scored with the function that scores ours), a table and a PNG."""
    from benchmarks import quality_curve

    data = tmp_path / "data"
    data.mkdir()
    references = ["A dog runs.", "Two men sit on a bench."]
    (data / "test_2016_flickr.en").write_text("\n".join(references) + "\n")
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "results.json").write_text(json.dumps({
        "val_bleu": [1.5, 7.25], "training_minutes": 4.0, "epochs": 2,
        "greedy": {"bleu": 10.0, "word_bleu": 11.0, "chrf": 30.0},
        "beam5": {"bleu": 12.0, "word_bleu": 13.0, "chrf": 31.0}, "args": {}}))
    (ours / "log").write_text("Epoch 1/9\n230/230 - 120s - 857ms/step - loss: 5\n"
                              "Epoch 2/9\n230/230 - 90s - 800ms/step - loss: 4\n")
    reference = tmp_path / "ref"
    reference.mkdir()
    report = {"epochs": [{"epoch_wall_s": 60.0, "val_ppl": 20.0},
                         {"epoch_wall_s": 30.0, "val_ppl": 10.0}],
              "train_wall_s": 90.0, "test_bleu": 50.0}
    (reference / "log").write_text("[keras] noise\n" + json.dumps(report) + "\n")
    (reference / "hyps-test_2016_flickr.txt").write_text(
        "a dog runs .\ntwo men sit on a bench .\n")
    png = tmp_path / "curve.png"
    quality_curve.main(["--ours", str(ours), "--reference", str(reference),
                        "--data", str(data), "--output", str(png)])
    printed = capsys.readouterr().out
    rows = markdown_tables(printed)["run"]
    assert ["ours", "2", "4.0", "greedy", "11.00", "10.00", "30.00"] in rows
    assert ["ours", "2", "4.0", "beam5", "13.00", "12.00", "31.00"] in rows
    ref = [row for row in rows if row[0] == "ref"][0]
    assert ref[:4] == ["ref", "2", "1.5", "greedy"]
    assert float(ref[4]) == pytest.approx(100.0)   # word BLEU: lowercased tokens match
    assert float(ref[5]) < 100.0                    # sacrebleu is cased and detokenized
    assert "ours: val BLEU by epoch 1.5@2m, 7.2@4m" in printed
    assert png.stat().st_size > 0


def test_matvec_precision_times_every_shape_and_mode(tmp_path, capsys):
    """benchmarks/matvec_precision.py: a row per decoder matrix, three precisions."""
    from benchmarks import matvec_precision

    out = tmp_path / "matvec.json"
    rows = matvec_precision.main(["--batches", "1", "--repeats", "2", "--json", str(out)])
    assert [row["shape"] for row in rows] == [[512, 6000], [512, 1536], [1280, 512]]
    for row in rows:
        assert set(row["ms"]) == {"float32", "bfloat16", "mixed"}
        assert all(ms > 0 for ms in row["ms"].values())
    assert json.loads(out.read_text())["rows"] == rows
    table = markdown_tables(capsys.readouterr().out)["batch"]
    assert [cells[1] for cells in table] == [
        "output projection 512×6000", "GRU gates 512×1536",
        "attentional layer [c; h; e] 1280×512"]
