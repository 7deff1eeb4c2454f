"""The `keras-seq2seq` command line, in subprocesses and in process, on tiny settings."""

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from keras_seq2seq import cli, training
from keras_seq2seq import config as config_lib

COMMANDS = {
    "demo": ["--output", "--epochs", "--train-size", "--test-size", "--batch-size",
             "--seed"],
    "train": ["--config", "--set", "--output", "--epochs", "--batch-size",
              "--learning-rate", "--seed", "--no-export", "--strategy", "--verbose"],
    "evaluate": ["--model", "--source", "--reference", "--beam", "--length-penalty",
                 "--batch-size", "--output", "--json"],
    "translate": ["--model", "--input", "--beam", "--length-penalty", "--n-best",
                  "--show-attention", "--plot", "--batch-size", "TEXT"],
    "export": ["--model", "--output", "--beam", "--max-length", "--length-penalty",
               "--coverage-penalty", "--min-length", "--max-length-ratio",
               "--max-length-offset", "--n-best", "--ensemble-with", "--jit-compile",
               "--overwrite"],
    "score": ["--model", "--source", "--target", "--format", "--length-normalize",
              "--batch-size"],
    "serve": ["--model", "--host", "--port", "--name", "--beam", "--jit-compile",
              "--max-batch-size",
              "--batch-wait-ms", "--max-sentences", "--max-chars", "--max-request-bytes",
              "--max-pending", "--max-k"],
    "plot-attention": ["--model", "--output", "--beam", "TEXT"],
}

TINY_CONFIG = """\
[data]
path = "pairs.tsv"

[tokenizer]
type = "character"

[model]
embedding_dim = 8
units = 16
cell_type = "gru"
max_decode_length = 12

[training]
batch_size = 64
epochs = 1
teacher_forcing = { name = "linear", slope = 0.1 }

[output]
dir = "run"
attention_images = false
"""


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("KERAS_BACKEND", None)
    return env


def run_cli(*args, cwd=None, timeout=300, **kwargs):
    return subprocess.run([sys.executable, "-m", "keras_seq2seq", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=_env(),
                          **kwargs)


def error_lines(stderr):
    """The CLI's own stderr lines (TensorFlow's start-up logging aside)."""
    return [line for line in stderr.splitlines() if line.startswith("keras-seq2seq:")]


def assert_one_line_error(stderr, *fragments):
    assert "Traceback" not in stderr
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr
    assert lines[0].startswith("keras-seq2seq: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """A tiny date-normalisation corpus: pairs.tsv, test.src/test.ref, tiny.toml."""
    from keras_seq2seq.datasets import load_dates

    folder = tmp_path_factory.mktemp("cli")
    splits = load_dates(train_size=300, validation_size=10, test_size=20, seed=0)
    with open(folder / "pairs.tsv", "w", encoding="utf-8") as f:
        f.writelines(f"{s}\t{t}\tCC-BY\n" for s, t in zip(*splits["train"]))
    sources, references = splits["test"]
    (folder / "test.src").write_text("".join(s + "\n" for s in sources), encoding="utf-8")
    (folder / "test.ref").write_text("".join(r + "\n" for r in references),
                                     encoding="utf-8")
    (folder / "tiny.toml").write_text(TINY_CONFIG, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def trained(corpus_dir):
    """`keras-seq2seq train` run once in a subprocess (model.keras and export/).

    tiny.toml turns the per-epoch attention image off (other tests train with it and
    need no image); this run turns it back on, so the TensorBoard image is checked."""
    result = run_cli("train", "--config", "tiny.toml", "--set",
                     "output.attention_images=true", cwd=corpus_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return corpus_dir / "run", result


# --------------------------------------------------------------------------- help


def test_top_level_help_lists_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    assert result.stdout.startswith("usage: keras-seq2seq ")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_documents_every_option(command, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: keras-seq2seq {command} ")
    for option in COMMANDS[command]:
        assert option in out, option
    # every option the parser knows is in the list above, and has a help text
    parser = cli.build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        if action.option_strings and action.dest != "help":
            assert any(o in COMMANDS[command] for o in action.option_strings)
        assert action.help, action


def test_train_help_lists_the_configuration_keys(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    for section, keys in config_lib.SCHEMA.items():
        for name in keys:
            assert f"{section}.{name}:" in out


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


# ------------------------------------------------------------------ user mistakes


def test_missing_model_is_one_line_exit_2(tmp_path):
    result = run_cli("translate", "--model", str(tmp_path / "nope.keras"), "hello")
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "no model at", "nope.keras")
    assert result.stdout == ""


@pytest.mark.parametrize("argv, fragments", [
    (["train", "--config", "{tmp}/missing.toml"], ["missing.toml does not exist"]),
    (["train", "--config", "{tmp}/bad.toml"],
     ["unknown key 'model.hidden_units'", "valid keys in [model]: embedding_dim, units,"]),
    (["train", "--config", "{tmp}/c.toml", "--set", "model.cell_type=rnn"],
     ["command line: invalid value 'rnn' for 'model.cell_type'; valid choices: lstm, gru"]),
    (["train", "--config", "{tmp}/c.toml", "--set", "units=3"], ["invalid override"]),
    (["train", "--config", "{tmp}/c.toml", "--epochs", "0"],
     ["argument --epochs: invalid value '0': expected a positive integer"]),
    (["train", "--config", "{tmp}/c.toml", "--strategy", "tpu"], ["--strategy"]),
    (["train"], ["the following arguments are required: --config"]),
    (["translate", "--model", "{tmp}/c.toml", "hi"], ["is not a model"]),
    (["translate", "--model", "{tmp}", "hi"], ["is not a SavedModel directory"]),
    (["translate", "--model", "{tmp}/empty.keras", "hi"], ["is empty (0 bytes)"]),
    (["translate", "--model", "{tmp}/dense.keras", "hi"],
     ["holds a Sequential model, not a keras_seq2seq Seq2Seq"]),
    (["translate", "--model", "{tmp}", "--show-attention", "hi"],
     ["--show-attention needs a .keras model"]),
    (["score", "--model", "{tmp}/x.keras", "--source", "{tmp}/none.src", "--target",
      "{tmp}/c.toml"], ["--source file", "none.src does not exist"]),
    (["score", "--model", "{tmp}/x.keras", "--source", "{tmp}/c.toml", "--target",
      "{tmp}/two.txt"], ["--source has 2 lines and --target 3"]),
    (["export", "--model", "{tmp}/x.keras", "--output", "{tmp}/new", "--n-best", "2"],
     ["--n-best needs beam search"]),
    (["export", "--model", "{tmp}/x.keras", "--output", "{tmp}/new", "--beam", "2",
      "--n-best", "3"], ["--n-best 3 needs a beam at least as wide"]),
    (["evaluate", "--model", "{tmp}/x.keras", "--source", "{tmp}/none.src",
      "--reference", "{tmp}/none.ref"], ["none.src: No such file or directory"]),
    (["export", "--model", "{tmp}/x.keras", "--output", "{tmp}"],
     ["already exists; pass --overwrite"]),
    (["plot-attention", "--model", "{tmp}/none.keras", "--output", "{tmp}/a.png", "x"],
     ["no model at"]),
])
def test_user_mistakes_print_one_line_and_exit_2(tmp_path, capsys, argv, fragments):
    import keras

    (tmp_path / "c.toml").write_text('[data]\npath = "a.tsv"\n')
    (tmp_path / "bad.toml").write_text('[data]\npath = "a.tsv"\n[model]\nhidden_units = 3\n')
    (tmp_path / "empty.keras").write_bytes(b"")
    (tmp_path / "two.txt").write_text("a\nb\nc\n")
    if "{tmp}/dense.keras" in argv:
        dense = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        dense.save(tmp_path / "dense.keras")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse errors
        code = exit_.code
    captured = capsys.readouterr()
    assert code == 2
    assert_one_line_error(captured.err, *fragments)


# ------------------------------------------------------------ train / translate / ...


@pytest.mark.slow
def test_train_writes_the_output_folder(trained):
    run, result = trained
    for name in ("model.keras", "config.json", "checkpoints/latest.keras",
                 "backup/training_metadata.json", "tokenizers/source/config.json",
                 "tokenizers/target/vocabulary.json", "export/saved_model.pb"):
        assert (run / name).exists(), name
    assert json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"] == 1
    assert "Corpus: 300 sentence pairs." in result.stdout
    assert "Tokenizers (character):" in result.stdout
    assert f"Model: {run / 'model.keras'}" in result.stdout
    assert "teacher_forcing_ratio" in result.stdout  # one line per epoch (verbose 2)
    assert "Traceback" not in result.stderr
    # TensorBoard logs: scalars (the teacher-forcing ratio among them) and an image.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "logs" / "train"), size_guidance={"tensors": 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    assert "epoch_teacher_forcing_ratio" in tags and "epoch_loss" in tags
    # The image is its own TensorBoard run, logs/attention, beside logs/train.
    assert attention_images(run / "logs" / "train") == []
    images = attention_images(run / "logs" / "attention")
    assert [(tag, step) for tag, step, _ in images] == [("attention", 0)]  # 1 epoch
    png = images[0][2]
    assert png.dtype == np.uint8 and png.ndim == 3 and png.shape[2] in (3, 4)
    height, width = png.shape[:2]
    assert height >= 100 and width >= 100, png.shape  # a figure, not a placeholder
    rgb = png[..., :3].astype("float64")
    assert rgb.std() > 10, rgb.std()  # not a constant image
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 16  # a rendered figure, not 2 colours
    if png.shape[2] == 4:
        assert png[..., 3].max() == 255  # not fully transparent


def attention_images(log_dir):
    """`[(tag, step, HxWxC uint8 array)]` of every image summary under `log_dir`.

    `tf.summary.image` writes tensor summaries whose value is a string vector
    `[width, height, png, ...]` (plugin "images"); each PNG is decoded here.
    """
    import tensorflow as tf

    found = []
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "images":
                    continue
                strings = tf.make_ndarray(value.tensor)
                width, height = int(strings[0]), int(strings[1])
                for encoded in strings[2:]:
                    png = tf.io.decode_png(encoded).numpy()
                    assert png.shape[:2] == (height, width)
                    found.append((value.tag, event.step, png))
    return found


@pytest.mark.slow
def test_translate_streams_stdin_line_by_line(trained):
    run, _ = trained
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_seq2seq", "translate", "--model",
         str(run / "model.keras")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=_env())
    watchdog = threading.Timer(180, process.kill)  # never hang the test run
    watchdog.start()
    try:
        outputs = []
        for line in ["3 March 2023", "", "2023년 3월 3일"]:
            process.stdin.write(line + "\n")
            process.stdin.flush()
            # The answer arrives before the next line is written: streamed, flushed.
            outputs.append(process.stdout.readline())
        process.stdin.close()
        rest = process.stdout.read()
        assert process.wait(timeout=60) == 0, process.stderr.read()[-2000:]
    finally:
        watchdog.cancel()
        process.kill()
    assert all(o.endswith("\n") for o in outputs)
    assert outputs[1] == "\n"  # an empty line translates to an empty line
    assert rest == ""


@pytest.mark.slow
def test_evaluate_a_savedmodel_export(trained):
    run, _ = trained
    corpus = run.parent
    result = run_cli("evaluate", "--model", str(run / "export"), "--source",
                     str(corpus / "test.src"), "--reference", str(corpus / "test.ref"),
                     "--json", "--batch-size", "8", "--output", str(corpus / "hyp.txt"))
    assert result.returncode == 0, result.stderr[-2000:]
    scores = json.loads(result.stdout)
    assert set(scores) == {"bleu", "chrf", "exact_match", "word_bleu", "sentences",
                           "decoding"}
    assert scores["sentences"] == 20 and scores["decoding"] == "greedy"
    assert 0.0 <= scores["exact_match"] <= 1.0
    assert len((corpus / "hyp.txt").read_text(encoding="utf-8").splitlines()) == 20
    assert "3/3" in result.stderr  # the progress bar over the 3 batches, on stderr


@pytest.mark.slow
def test_evaluate_translate_and_plot_in_process(trained, capsys, monkeypatch, tmp_path):
    from keras_seq2seq import plotting

    run, _ = trained
    model = str(run / "model.keras")
    corpus = run.parent
    assert cli.main(["evaluate", "--model", model, "--source", str(corpus / "test.src"),
                     "--reference", str(corpus / "test.ref"), "--beam", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("BLEU ") and "(20 sentences, beam 2)" in out

    assert cli.main(["translate", "--model", model, "--n-best", "2", "--show-attention",
                     "--plot", str(tmp_path / "a.png"), "3 March 2023"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    for line in lines[:2]:
        score, _ = line.split("\t")
        float(score)
    assert lines[2] == ""
    assert lines[3].split() == ["3", "␣", "M", "a", "r", "c", "h", "␣", "2", "0", "2", "3"]
    assert (tmp_path / "a.png").stat().st_size > 1000
    assert f"Attention heat map: {tmp_path / 'a.png'}" in captured.err

    # Hangul without a Hangul font: the one-line hint naming the Debian packages.
    monkeypatch.setattr(plotting, "find_hangul_font", lambda: None)
    assert cli.main(["plot-attention", "--model", model, "--output",
                     str(tmp_path / "ko.png"), "2023년 3월 3일"]) == 0
    captured = capsys.readouterr()
    hints = [line for line in captured.err.splitlines() if "fonts-nanum" in line]
    assert len(hints) == 1 and "fonts-noto-cjk" in hints[0]
    assert (tmp_path / "ko.png").exists()


@pytest.mark.slow
def test_length_penalty_reaches_the_beam_search_of_translate_and_evaluate(trained, capsys):
    import keras

    run, _ = trained
    model_path = str(run / "model.keras")
    corpus = run.parent
    texts = ["1 May 2020", "December 3, 1999", "x"]
    assert cli.main(["translate", "--model", model_path, "--beam", "3",
                     "--length-penalty", "0.6", *texts]) == 0
    model = keras.models.load_model(model_path)
    assert capsys.readouterr().out.splitlines() == model.translate(
        texts, method="beam", beam_width=3, length_penalty=0.6)
    assert cli.main(["evaluate", "--model", model_path, "--source", str(corpus / "test.src"),
                     "--reference", str(corpus / "test.ref"), "--beam", "2",
                     "--length-penalty", "0.6", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["decoding"] == "beam 2, length penalty 0.6"
    for flags, message in ((["--model", model_path, "--length-penalty", "0.6"],
                            "give --beam N too"),
                           (["--model", str(run / "export"), "--beam", "2",
                             "--length-penalty", "0.6"],
                            "--length-penalty needs a .keras model")):
        assert cli.main(["translate", *flags, "x"]) == 2
        assert_one_line_error(capsys.readouterr().err, message)

@pytest.mark.slow
def test_export_command(trained, capsys, tmp_path):
    run, _ = trained
    target = tmp_path / "beam2"
    assert cli.main(["export", "--model", str(run / "model.keras"), "--output",
                     str(target), "--beam", "2", "--max-length", "8"]) == 0
    assert "beam search of width 2" in capsys.readouterr().out
    assert (target / "saved_model.pb").exists()
    metadata = json.loads((target / "assets.extra" / "keras_seq2seq_export.json").read_text())
    assert metadata["jit_compile"] is True  # --jit-compile auto
    assert cli.main(["translate", "--model", str(target), "--beam", "2", "1 May 2020",
                     "x"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert cli.main(["translate", "--model", str(target), "--beam", "3", "x"]) == 2
    assert_one_line_error(capsys.readouterr().err, "fixed to beam search of width 2")


@pytest.mark.slow
def test_export_command_bakes_the_decoding_options(trained, capsys, tmp_path):
    """--length-penalty/--coverage-penalty/--min-length/--max-length-ratio reach the
    export: its translations equal model.translate with the same options."""
    import keras

    from keras_seq2seq.export import load_translator

    run, _ = trained
    target = tmp_path / "beam3"
    assert cli.main(["export", "--model", str(run / "model.keras"), "--output",
                     str(target), "--beam", "3", "--length-penalty", "0.6",
                     "--coverage-penalty", "0.2", "--min-length", "2",
                     "--max-length-ratio", "1.5", "--max-length-offset", "1",
                     "--jit-compile", "off"]) == 0
    assert "length_penalty=0.6" in capsys.readouterr().out
    translator = load_translator(target)
    assert translator.metadata["jit_compile"] is False
    options = dict(beam_width=3, length_penalty=0.6, coverage_penalty=0.2,
                   min_length=2, max_length_ratio=1.5, max_length_offset=1)
    assert translator.metadata["options"] == options
    texts = ["1 May 2020", "December 3, 1999", "x"]
    model = keras.models.load_model(run / "model.keras")
    assert translator.translate(texts) == model.translate(texts, method="beam",
                                                          **options)
    for flags, message in ((["--length-penalty", "0.6"], "applies to beam search"),
                           (["--max-length-offset", "2"], "needs --max-length-ratio"),
                           (["--coverage-penalty", "-1", "--beam", "2"], "coverage")):
        try:  # argparse's own errors exit; the command's return 2
            code = cli.main(["export", "--model", str(run / "model.keras"),
                             "--output", str(tmp_path / "bad"), *flags])
        except SystemExit as exit_:
            code = exit_.code
        assert code == 2
        assert_one_line_error(capsys.readouterr().err, message)
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_score_and_n_best_on_a_keras_model_and_its_export(trained, capsys, tmp_path):
    """`score` prints one line a pair (TSV, JSON lines), the same figures from the
    .keras model and from a beam export; `translate --n-best` works on both."""
    import keras

    run, _ = trained
    model = keras.models.load_model(run / "model.keras")
    sources = ["1 May 2020", "December 3, 1999", ""]
    targets = model.translate(sources[:2]) + ["2020-01-01"]
    (tmp_path / "s.txt").write_text("".join(t + "\n" for t in sources), "utf-8")
    (tmp_path / "t.txt").write_text("".join(t + "\n" for t in targets), "utf-8")
    export_dir = tmp_path / "beam3"
    assert cli.main(["export", "--model", str(run / "model.keras"), "--output",
                     str(export_dir), "--beam", "3", "--n-best", "2"]) == 0
    capsys.readouterr()
    expected = model.score(sources, targets)
    outputs = {}
    for where in (run / "model.keras", export_dir):
        for form in ("tsv", "jsonl"):
            assert cli.main(["score", "--model", str(where), "--source",
                             str(tmp_path / "s.txt"), "--target", str(tmp_path / "t.txt"),
                             "--format", form, "--batch-size", "2"]) == 0
            outputs[where, form] = capsys.readouterr().out.splitlines()
    for where in (run / "model.keras", export_dir):
        rows = [json.loads(line) for line in outputs[where, "jsonl"]]
        assert len(rows) == 3
        for row, line, score in zip(rows, outputs[where, "tsv"], expected):
            assert row["tokens"] == score.tokens
            assert row["log_prob"] == pytest.approx(score.log_prob, abs=1e-4)
            assert row["score"] == row["log_prob"]
            np.testing.assert_allclose(row["token_log_probs"], score.token_log_probs,
                                       atol=1e-4)
            fields = line.split("\t")
            assert float(fields[1]) == pytest.approx(score.log_prob, abs=1e-4)
            assert int(fields[2]) == len(score.tokens)
            assert len(fields[3].split()) == len(score.tokens)
    assert cli.main(["score", "--model", str(export_dir), "--source",
                     str(tmp_path / "s.txt"), "--target", str(tmp_path / "t.txt"),
                     "--length-normalize"]) == 0
    first = capsys.readouterr().out.splitlines()[0].split("\t")
    assert float(first[0]) == pytest.approx(float(first[1]) / int(first[2]), abs=1e-5)

    lists = {}
    for where in (run / "model.keras", export_dir):
        assert cli.main(["translate", "--model", str(where), "--beam", "3",
                         "--n-best", "2", *sources[:2]]) == 0
        lists[where] = capsys.readouterr().out.splitlines()
    assert lists[run / "model.keras"] == lists[export_dir]
    assert len(lists[export_dir]) == 6 and lists[export_dir][2] == ""
    best = model.n_best(sources[0], 2, beam_width=3)
    assert lists[export_dir][0] == f"{best[0][1]:.4f}\t{best[0][0]}"
    assert cli.main(["translate", "--model", str(export_dir), "--n-best", "3",
                     "x"]) == 2
    assert_one_line_error(capsys.readouterr().err, "returns 2 hypotheses per sentence")


@pytest.mark.slow
def test_interrupt_saves_the_model_and_the_next_run_resumes(corpus_dir, tmp_path,
                                                            capsys, monkeypatch):
    """Ctrl-C in epoch 2 -> exit 130; the same command resumes at epoch 2."""
    import keras

    class CtrlC(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    real = training.train_from_config
    monkeypatch.setattr(training, "train_from_config",
                        lambda config, **kw: real(config, callbacks=[CtrlC()], **kw))
    out = tmp_path / "run"
    argv = ["train", "--config", str(corpus_dir / "tiny.toml"), "--output", str(out),
            "--epochs", "2", "--no-export", "--verbose", "2"]
    assert cli.main(argv) == 130
    captured = capsys.readouterr()
    assert error_lines(captured.err) == [
        f"keras-seq2seq: interrupted; model saved to {out / 'interrupted.keras'}; run "
        f"the same command again to resume from the last completed epoch "
        f"({out / 'backup'})"]
    assert (out / "interrupted.keras").exists() and not (out / "model.keras").exists()
    assert json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"] == 1

    monkeypatch.setattr(training, "train_from_config", real)
    assert cli.main(argv) == 0
    stdout = capsys.readouterr().out
    assert f"Resuming from {out / 'backup'}: 1 of 2 epochs done" in stdout
    assert "Epoch 2/2" in stdout and "Epoch 1/2" not in stdout
    assert (out / "model.keras").exists()

    # A finished folder: nothing left to train, no crash, the model is there.
    assert cli.main(argv) == 0
    stdout = capsys.readouterr().out
    assert "2 of 2 epochs already done, nothing left to train" in stdout
    assert "Epoch " not in stdout
    assert (out / "model.keras").exists()

    # Another configuration on the same folder is refused.
    assert cli.main(argv + ["--set", "model.units=32"]) == 2
    assert_one_line_error(capsys.readouterr().err,
                          "holds a run with another configuration (model.units: 16 -> 32)")


@pytest.mark.slow
def test_demo_writes_model_heat_map_metrics_and_export(tmp_path):
    result = run_cli("demo", "--output", str(tmp_path), "--epochs", "1", "--train-size",
                     "300", "--test-size", "50", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "dates.keras").exists()
    assert (tmp_path / "attention.png").stat().st_size > 1000
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.0 <= metrics["exact_match"] <= 1.0
    assert (tmp_path / "export" / "saved_model.pb").exists()
    assert f"keras-seq2seq translate --model {tmp_path / 'dates.keras'}" in result.stdout
    assert f"keras-seq2seq translate --model {tmp_path / 'export'}" in result.stdout


@pytest.mark.parametrize("argv", [["study", "--smoke"], ["study", "--help"]])
def test_the_study_moved_to_experiments(argv, capsys):
    """The teacher-forcing study left the package: `keras-seq2seq study` says where
    it went, in one line, exit status 2 (tests/test_study.py runs the script)."""
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_line_error(captured.err, "experiments/teacher_forcing_study.py",
                          "docs/teacher_forcing.md")
    assert "study" not in cli.build_parser()._subparsers._group_actions[0].choices
