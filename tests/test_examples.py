"""The small example scripts run to the end."""

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


# A small saved model with tokenizers (tests/test_saved_work.py): serve_export.py's
# export and fresh-process check without its 250 training steps.
SAVED_MODEL = pathlib.Path(__file__).resolve().parent / "data" / "saved_e131dc5" / "tiny.keras"


@pytest.mark.slow
@pytest.mark.parametrize("script, options, expected", [
    ("custom_schedule.py", [], "ratio per epoch: [1.0, 0.725, 0.325, 0.2]"),
    ("attention_in_your_model.py", [], "attention of the first sequence (padding gets 0)"),
    ("serve_export.py", ["--model", str(SAVED_MODEL)],
     "the fresh process (tensorflow + tensorflow_text only) gave the model's own "
     "translations"),
])
def test_example_runs(script, options, expected, tmp_path):
    if script == "serve_export.py":
        options = options + ["--export", str(tmp_path / "export")]
    run = subprocess.run([sys.executable, str(EXAMPLES / script), *options],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert expected in run.stdout


def _tiny_corpus(tmp_path):
    """A Multi30k-style folder of word-for-word German -> English pairs."""
    import random

    rng = random.Random(0)
    words = ["haus", "katze", "hund", "baum", "auto", "buch", "tisch", "stuhl"]
    english = dict(zip(words, ["house", "cat", "dog", "tree", "car", "book", "table",
                               "chair"]))
    data = tmp_path / "corpus"
    data.mkdir()
    for stem, count in (("train", 400), ("val", 20), ("test_2016_flickr", 20)):
        pairs = [rng.sample(words, rng.randint(2, 5)) for _ in range(count)]
        (data / f"{stem}.de").write_text("\n".join(" ".join(p) for p in pairs) + "\n")
        (data / f"{stem}.en").write_text(
            "\n".join(" ".join(english[w] for w in p) for p in pairs) + "\n")
    return data


def _translate_corpus(data, output, *options):
    """Runs examples/translate_corpus.py at a tiny size; returns (run, results.json)."""
    import json

    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "translate_corpus.py"), "--data", str(data),
         "--vocabulary-size", "40", "--embedding-dim", "8", "--units", "16",
         "--minutes", "20", "--beam", "2", "--output", str(output), *options],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return run, json.loads((output / "results.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("model, levers", [
    ("seq2seq", ["--ema", "0.9", "--joint-vocabulary", "--token-budget", "200",
                 "--deep-output", "--ensemble", "2"]),
    ("baseline", [])])
def test_translate_corpus_trains_and_scores_both_models(tmp_path, model, levers):
    """examples/translate_corpus.py on a tiny Multi30k-style folder (word reversal),
    for the package's model (with the quality levers that are off by default) and
    for the plain-Keras baseline of the same script."""
    data = _tiny_corpus(tmp_path)
    output = tmp_path / "out"
    run, results = _translate_corpus(data, output, "--model", model, "--epochs", "2",
                                     *levers)
    if "--ensemble" in levers:  # two members of 2 epochs each, in the same minutes
        assert [m["epochs"] for m in results["members"]] == [2, 2]
        assert results["epochs"] == 4
    else:
        assert results["epochs"] == 2
    assert 0.0 <= results["greedy"]["word_bleu"] <= 100.0
    assert "word BLEU" in run.stdout
    if model == "seq2seq":
        assert 0.0 <= results["beam2"]["bleu"] <= 100.0
        assert results["args"]["ema"] == 0.9 and results["args"]["joint_vocabulary"]
        assert (output / "attention.png").stat().st_size > 0
    else:
        assert results["model"] == "baseline"


@pytest.mark.slow
def test_translate_corpus_fine_tunes_a_saved_model_under_less_teacher_forcing(tmp_path):
    """--init: the design note's last phase, from a teacher-forced run's best epoch."""
    data = _tiny_corpus(tmp_path)
    _, first = _translate_corpus(data, tmp_path / "first", "--epochs", "1",
                                 "--teacher-forcing", "1")
    assert first["teacher_forcing_ratio"] == [1.0]
    run, tuned = _translate_corpus(
        data, tmp_path / "tuned", "--epochs", "1", "--init",
        str(tmp_path / "first" / "best.keras"), "--teacher-forcing", "0.5",
        "--teacher-forcing-granularity", "token", "--teacher-forcing-mode", "parallel",
        "--units", "999")  # ignored: the saved model's architecture is kept
    assert f"fine-tuning {tmp_path / 'first' / 'best.keras'}" in run.stdout
    # _translate_corpus's tiny sizes and --units 999 are named as ignored.
    assert ("architecture and tokenizers; ignoring --vocabulary-size, --embedding-dim, "
            "--units\n") in run.stderr
    assert tuned["teacher_forcing_ratio"] == [0.5]
    assert 0.0 <= tuned["beam2"]["word_bleu"] <= 100.0


def _translate_corpus_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("translate_corpus",
                                                  EXAMPLES / "translate_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_translate_corpus_warmup_steps_reach_the_warmdown(tmp_path):
    """--warmup-steps is TimeWarmdown's warmup; without the warmdown it is refused."""
    import keras_seq2seq as ks

    module = _translate_corpus_module()
    train = (["ein haus", "eine katze"] * 20, ["a house", "a cat"] * 20)
    options = ["--data", str(tmp_path), "--vocabulary-size", "20", "--embedding-dim", "8",
               "--units", "16", "--output", str(tmp_path / "out")]
    args = module.make_parser().parse_args(options + ["--warmup-steps", "50"])
    recipe = module.build_recipe(args, train, train)
    (warmdown,) = [c for c in recipe["callbacks"] if isinstance(c, ks.TimeWarmdown)]
    assert (warmdown.warmup_steps, warmdown.fraction) == (50, 0.5)
    args = module.make_parser().parse_args(options + ["--warmup-steps", "50",
                                                      "--warmdown", "0"])
    with pytest.raises(ValueError, match="--warmup-steps needs the time-budget warmdown"):
        module.build_recipe(args, train, train)
