"""The teacher-forcing study (`experiments/`: the `study_harness` package and the
`teacher_forcing_study.py` script) on a tiny budget."""

import argparse
import json
import math
import os
import pathlib
import sys

import pytest

from keras_seq2seq import constants, schedules

EXPERIMENTS = pathlib.Path(__file__).resolve().parents[1] / "experiments"
sys.path.insert(0, str(EXPERIMENTS))

import study_harness as study  # noqa: E402
import teacher_forcing_study as script  # noqa: E402

TINY_MODEL = {"units": 8, "embedding_dim": 4, "max_decode_length": 11}
MAX_STEPS = 4
PLANNED = 4


# One default regime of each kind of run: constant per batch (1 and 0.5), a decay per
# token, sampled feedback, the switch and the parallel mode. The other four differ
# from these only in the schedule (test_planned_decay) or the granularity.
RUN_REGIMES = ("tf_1.0", "const_0.5_batch", "linear_token", "invsig_token_sample",
               "switch_acc", "parallel_invsig_token")


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """Six default regimes (`RUN_REGIMES`), 4 steps each on 96 dates, evaluated every
    2 steps."""
    output = tmp_path_factory.mktemp("study")
    # threshold 0: the switch fires after the first batch, so its cap shows.
    regimes = [r for r in study.default_regimes(switch_threshold=0.0)
               if r.name in RUN_REGIMES]
    assert [r.name for r in regimes] == list(RUN_REGIMES)
    results = study.run_study(
        regimes, task="dates", seeds=(0,), budget_seconds=1e6, output_dir=str(output),
        eval_every_steps=2, planned_steps=PLANNED, max_steps=MAX_STEPS,
        task_options=dict(train_size=96, eval_size=16, test_size=16, batch_size=32,
                          eval_batch_size=16),
        model_options=TINY_MODEL, command="pytest", verbose=0)
    return regimes, results, output


def test_every_regime_runs(tiny_study):
    regimes, results, _ = tiny_study
    assert [r["regime"] for r in results["runs"]] == [r.name for r in regimes]
    for run in results["runs"]:
        assert run["steps"] == MAX_STEPS
        assert [rec["step"] for rec in run["curve"]] == [0, 2, 4]
        for record in run["curve"]:
            for key in ("teacher_forced_accuracy", "free_running_accuracy",
                        "exact_match"):
                assert 0.0 <= record[key] <= 1.0
            assert record["gap"] == pytest.approx(
                record["teacher_forced_accuracy"] - record["free_running_accuracy"])
        times = [rec["train_seconds"] for rec in run["curve"]]
        assert times == sorted(times)
        assert 0.0 <= run["test_exact_match"] <= 1.0


def test_logged_ratio_is_the_models_ratio(tiny_study):
    regimes, results, _ = tiny_study
    by_name = {r.name: r for r in regimes}
    for run in results["runs"]:
        regime = by_name[run["regime"]]
        schedule = schedules.get(run["schedule"])
        assert schedule == regime.make_schedule(PLANNED)
        for record in run["curve"]:
            expected = float(schedule(record["step"]))
            assert record["schedule_ratio"] == pytest.approx(expected)
            if regime.switch is None:
                assert record["ratio"] == pytest.approx(expected)
            else:  # capped at the switch's ratio from the step it fired
                assert run["switch_step"] == 1
                capped = expected if record["step"] < 1 else min(expected, 0.0)
                assert record["ratio"] == pytest.approx(capped)


def test_decays_go_from_about_one_to_the_final_ratio(tiny_study):
    _, results, _ = tiny_study
    runs = {r["regime"]: r for r in results["runs"]}
    for name in ("linear_token", "invsig_token_sample", "parallel_invsig_token"):
        ratios = [rec["ratio"] for rec in runs[name]["curve"]]
        assert ratios == sorted(ratios, reverse=True)
        assert ratios[-1] == pytest.approx(0.1, abs=1e-4)  # at the planned step
    # (the inverse sigmoid starts at k / (k + 1): near 1 only over many steps)
    assert runs["linear_token"]["curve"][0]["ratio"] == 1.0
    for name in ("tf_1.0", "const_0.5_batch"):
        assert {rec["ratio"] for rec in runs[name]["curve"]} == {
            1.0 if name == "tf_1.0" else 0.5}


def test_report_files(tiny_study):
    regimes, results, output = tiny_study
    names = sorted(os.listdir(output))
    assert names == ["exact_match.png", "gap.png", "ratio.png", "results.json",
                     "results.md"]
    for name in names:
        if name.endswith(".png"):
            with open(output / name, "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n"
            assert os.path.getsize(output / name) < 200_000
    saved = study.load_results(output / "results.json")
    assert saved["runs"][0]["curve"] == json.loads(json.dumps(
        results["runs"][0]["curve"]))
    table = (output / "results.md").read_text()
    for regime in regimes:
        assert f"`{regime.name}`" in table
    assert "final FR exact match" in table
    assert len(saved["summary"]) == len(regimes)


@pytest.mark.parametrize("name", study.DECAYS)
@pytest.mark.parametrize("steps", [200, 1000, 25000])
def test_planned_decay(name, steps):
    schedule = study.planned_decay(name, steps, final_ratio=0.1)
    assert float(schedule(0)) > 0.95
    if name != "inverse_sigmoid":  # k / (k + 1) at step 0
        assert float(schedule(0)) == 1.0
    assert float(schedule(steps)) == pytest.approx(0.1, abs=1e-3)
    assert float(schedule(2 * steps)) == pytest.approx(0.1, abs=1e-6)
    values = [float(schedule(s)) for s in range(0, steps + 1, max(1, steps // 20))]
    assert values == sorted(values, reverse=True)


def test_inverse_sigmoid_k_solves_the_equation():
    k = schedules.inverse_sigmoid_k(3000, 0.1)
    assert k / (k + math.exp(3000 / k)) == pytest.approx(0.1, rel=1e-6)


def test_the_parallel_regime_trains_in_parallel_mode():
    """The last default regime is the parallel mode's, and its model runs in it."""
    regimes = study.default_regimes()
    assert len(regimes) == 10
    parallel = regimes[-1]
    assert parallel.name == "parallel_invsig_token" and parallel.mode == "parallel"
    assert [r.name for r in regimes if r.mode is not None] == [parallel.name]
    data = study.prepare_task("dates", train_size=8, eval_size=4, test_size=4,
                              eval_batch_size=4)
    model = study.build_model(data, parallel, planned_steps=10, model_options=TINY_MODEL)
    assert model.teacher_forcing_mode == "parallel"
    assert model.teacher_forcing_granularity == "token"
    assert type(model.teacher_forcing).__name__ == "InverseSigmoidDecay"
    by_name = {r.name: r for r in regimes}
    sequential = study.build_model(data, by_name["invsig_token"], planned_steps=10,
                                   model_options=TINY_MODEL)
    assert sequential.teacher_forcing_mode == "sequential"


def test_multi30k_plumbing(tmp_path):
    """The Multi30k reader, tokenizers and held-out batches (no training)."""
    german = ["ein mann fährt rad .", "zwei hunde spielen im schnee .",
              "eine frau liest ein buch ."]
    english = ["a man rides a bike .", "two dogs play in the snow .",
               "a woman reads a book ."]
    # Each split starts at a different sentence, so swapped files would show.
    for shift, split in enumerate(("train", "val", "test_2016_flickr")):
        (tmp_path / f"{split}.de").write_text(
            "\n".join((german[shift:] + german[:shift]) * 2) + "\n")
        (tmp_path / f"{split}.en").write_text(
            "\n".join((english[shift:] + english[:shift]) * 2) + "\n")
    data = study.prepare_task("multi30k", data_dir=str(tmp_path), train_size=5,
                              eval_size=4, test_size=3, eval_batch_size=2)
    assert data.metric == "bleu"
    assert (data.train_sources[0], data.eval_sources[0], data.test_sources[0]) == \
        (german[0], german[1], german[2])
    assert data.test_references[0] == english[2]
    assert data.model_options == study.MULTI30K_MODEL
    assert len(data.train_sources) == 5 and len(data.eval_sources) == 4
    assert len(data.test_references) == 3
    assert sum(len(b[0]) for b in data.eval_batches) == 4
    source_ids, decoder_input_ids, target_ids = data.eval_batches[0]
    assert (decoder_input_ids[:, 0] == constants.START_ID).all()
    assert data.target_tokenizer.detokenize(target_ids[:1, :-1]).numpy()[0].decode() \
        == english[1]


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="Unknown regime"):
        study.run_study(["nope"], output_dir=None, planned_steps=1)
    with pytest.raises(ValueError, match="Unknown task"):
        study.prepare_task("wmt")
    with pytest.raises(ValueError, match="Unknown decay"):
        study.planned_decay("cosine", 10)


# ------------------------------------------------------- the script's command line

SCRIPT_OPTIONS = ["--smoke", "--task", "--budget-seconds", "--seeds", "--regimes",
                  "--output", "--eval-every", "--train-size", "--eval-size",
                  "--test-size", "--units", "--embedding-dim", "--learning-rate",
                  "--clipnorm", "--batch-size", "--planned-steps", "--final-ratio",
                  "--switch-threshold", "--max-steps", "--clock", "--threads",
                  "--tokenizer", "--vocabulary-size", "--data-dir", "--quiet"]


def test_script_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as info:
        script.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: teacher_forcing_study.py ")
    for option in SCRIPT_OPTIONS:
        assert option in out, option
    # every option the parser knows is in the list above, and has a help text
    for action in script.build_parser()._actions:
        if action.option_strings and action.dest != "help":
            assert any(o in SCRIPT_OPTIONS for o in action.option_strings)
        assert action.help, action


@pytest.mark.parametrize("argv, fragments", [
    (["--regimes", "tf_1.0", "no_such_regime", "--output", "{tmp}/s"],
     ["unknown regime(s) ['no_such_regime'] in --regimes; choose from"]),
    (["--final-ratio", "1.5"],
     ["argument --final-ratio: invalid value '1.5': expected a number in [0, 1]"]),
])
def test_script_mistakes_print_one_line_and_exit_2(tmp_path, capsys, argv, fragments):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        code = script.main(argv)
    except SystemExit as exit_:  # argparse errors
        code = exit_.code
    assert code == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith(f"{script.NAME}:")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"{script.NAME}: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.slow
def test_script_runs_the_regimes_and_writes_the_report(tmp_path, capsys, monkeypatch):
    import keras

    made = []
    adam = keras.optimizers.Adam

    def recording_adam(*args, **kwargs):
        optimizer = adam(*args, **kwargs)
        made.append(optimizer)
        return optimizer

    monkeypatch.setattr(keras.optimizers, "Adam", recording_adam)
    output = tmp_path / "study"
    code = script.main(["--clipnorm", "1.5", "--regimes", "tf_1.0", "const_0.5_token",
                        "--seeds", "0", "--max-steps", "2", "--planned-steps", "2",
                        "--eval-every", "1", "--train-size", "64", "--eval-size", "8",
                        "--test-size", "8", "--units", "8", "--embedding-dim", "4",
                        "--batch-size", "32", "--budget-seconds", "1000",
                        "--threads", "0", "--quiet", "--output", str(output)])
    assert code == 0
    results = json.loads((output / "results.json").read_text())
    assert [run["regime"] for run in results["runs"]] == ["tf_1.0", "const_0.5_token"]
    assert all(run["steps"] == 2 for run in results["runs"])
    assert [r["ratio"] for r in results["runs"][1]["curve"]][1:] == [0.5, 0.5]
    command = results["environment"]["command"]
    assert command.startswith("python ")
    assert "teacher_forcing_study.py --clipnorm 1.5 --regimes tf_1.0" in command
    for name in ("results.md", "exact_match.png", "ratio.png", "gap.png"):
        assert (output / name).stat().st_size > 0
    assert "const_0.5_token" in capsys.readouterr().out
    # Both runs trained with the clipping asked for, and the report says so.
    assert [o.clipnorm for o in made] == [1.5, 1.5]
    assert results["config"]["clipnorm"] == 1.5
    assert "clipnorm 1.5" in (output / "results.md").read_text()


def test_study_defaults_depend_on_the_task():
    """Multi30k gets the settings that leave its constant-output plateau (batch 128,
    Adam 2e-3 clipped at 5, SentencePiece); the date task keeps its own; flags win."""

    def settings(*flags):
        parser = script.add_arguments(argparse.ArgumentParser())
        return script.settings_from_args(parser.parse_args(list(flags)))

    dates = settings()
    assert (dates["learning_rate"], dates["clipnorm"]) == (3e-3, None)
    assert dates["task_options"]["batch_size"] == 64
    multi30k = settings("--task", "multi30k")
    assert (multi30k["learning_rate"], multi30k["clipnorm"]) == (2e-3, 5.0)
    assert multi30k["task_options"]["batch_size"] == 128
    assert multi30k["task_options"]["tokenizer"] == "sentencepiece"
    assert (study.MULTI30K_MODEL["units"], study.MULTI30K_MODEL["embedding_dim"]) == \
        (512, 256)
    assert multi30k["budget_seconds"] == 2400
    chosen = settings("--task", "multi30k", "--learning-rate", "1e-3", "--clipnorm",
                      "2", "--batch-size", "32", "--tokenizer", "word",
                      "--budget-seconds", "60")
    assert (chosen["learning_rate"], chosen["clipnorm"]) == (1e-3, 2.0)
    assert chosen["task_options"]["batch_size"] == 32
    assert chosen["task_options"]["tokenizer"] == "word"
    assert chosen["budget_seconds"] == 60
    # 0 turns clipping off (the Multi30k default clips); negative values are refused.
    assert settings("--task", "multi30k", "--clipnorm", "0")["clipnorm"] is None
    assert settings("--clipnorm", "0")["clipnorm"] is None
    with pytest.raises(SystemExit):
        settings("--clipnorm", "-1")
