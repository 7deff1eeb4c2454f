"""train_from_config with the quality keys: a joint tokenizer and three-way tying,
validation files, per-epoch val_bleu, a time budget, a moving average and the best
epoch kept."""

import json

import keras
import numpy as np
import pytest

from keras_seq2seq import evaluation, training
from keras_seq2seq.config import load_config
from keras_seq2seq.datasets import load_dates


def _files(tmp_path):
    splits = load_dates(train_size=192, validation_size=16, test_size=1, seed=0)
    for name, (sources, targets) in (("train", splits["train"]),
                                     ("val", splits["validation"])):
        (tmp_path / f"{name}.src").write_text("".join(s + "\n" for s in sources),
                                              encoding="utf-8")
        (tmp_path / f"{name}.tgt").write_text("".join(t + "\n" for t in targets),
                                              encoding="utf-8")
    return splits["validation"]


CONFIG = """\
[data]
format = "parallel"
source_file = "train.src"
target_file = "train.tgt"
validation_source_file = "val.src"
validation_target_file = "val.tgt"

[tokenizer]
type = "character"
joint = true

[model]
embedding_dim = 8
units = 16
max_decode_length = 12
tie_embeddings = "all"

[training]
batch_size = 64
epochs = 3
learning_rate = 0.01
minutes = 30.0
warmdown = 0.5
ema = 0.5
token_budget = 400
validation_bleu = 8
keep = "best"

[output]
dir = "run"
export = false
attention_images = false
"""


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("recipe")
    validation = _files(tmp_path)
    (tmp_path / "c.toml").write_text(CONFIG, encoding="utf-8")
    lines = []
    result = training.train_from_config(load_config(tmp_path / "c.toml"), verbose=0,
                                        log=lines.append)
    return tmp_path, validation, result, lines


def test_joint_tokenizer_ties_all_three_embeddings(recipe_run):
    _, _, result, lines = recipe_run
    model = result["model"]
    assert model.source_tokenizer.get_vocabulary() == model.target_tokenizer.get_vocabulary()
    assert model.encoder.embedding is model.decoder.embedding
    assert model.tie_embeddings == "all"
    assert any(line.startswith("Validation: 16 pairs from ") for line in lines)


def test_each_epoch_logs_val_bleu_and_the_minutes_left(recipe_run):
    _, _, result, _ = recipe_run
    history = result["history"]
    assert len(history["val_bleu"]) == len(history["val_chrf"]) == 3
    assert result["epochs"] == 3
    left = history["minutes_left"]
    assert len(left) == 3 and 0 < left[2] < left[1] < left[0] < 30
    # TimeWarmdown's rate: 30 minutes with the last half decaying, so still 0.01.
    assert history["learning_rate"] == [pytest.approx(0.01)] * 3


def test_the_saved_model_is_the_best_epoch_and_scores_what_was_logged(recipe_run):
    tmp_path, validation, result, lines = recipe_run
    run = tmp_path / "run"
    record = json.loads((run / "checkpoints" / "best.keras.json").read_text())
    history = result["history"]["val_bleu"]
    assert record == {"val_bleu": pytest.approx(max(history)),
                      "epoch": int(np.argmax(history)) + 1}
    assert f"Best epoch by val_bleu: {record['epoch']}" in lines[-2]
    saved = keras.saving.load_model(run / "model.keras")
    best = keras.saving.load_model(run / "checkpoints" / "best.keras")
    for a, b in zip(saved.get_weights(), best.get_weights()):
        np.testing.assert_array_equal(a, b)
    # What was logged is the saved (averaged) model's BLEU on the validation pairs.
    sources, references = validation[0][:8], validation[1][:8]
    assert evaluation.corpus_bleu(saved.translate(sources), references) == (
        pytest.approx(record["val_bleu"], abs=1e-6))


def test_a_resumed_run_keeps_the_earlier_best(recipe_run):
    tmp_path, _, _, _ = recipe_run
    run = tmp_path / "run"
    before = json.loads((run / "checkpoints" / "best.keras.json").read_text())
    best_weights = keras.saving.load_model(run / "checkpoints" / "best.keras").get_weights()
    config = load_config(tmp_path / "c.toml", {"training.epochs": 4})
    lines = []
    result = training.train_from_config(config, verbose=0, log=lines.append)
    assert len(result["history"]["val_bleu"]) == 1  # epoch 4 only
    assert result["epochs"] == 4
    after = json.loads((run / "checkpoints" / "best.keras.json").read_text())
    new = result["history"]["val_bleu"][0]
    if new > before["val_bleu"]:
        assert after == {"val_bleu": pytest.approx(new), "epoch": 4}
    else:  # neither the record nor the kept model moves
        assert after == before
        kept = keras.saving.load_model(run / "checkpoints" / "best.keras").get_weights()
        for a, b in zip(kept, best_weights):
            np.testing.assert_array_equal(a, b)


def test_epochs_are_those_done_when_training_stops_early(tmp_path):
    """A run stopped before `training.epochs` (a budget, a callback) reports the
    epochs it did (`keras-seq2seq train` prints them), not the configured number."""

    class StopAfterFirst(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    _files(tmp_path)
    (tmp_path / "c.toml").write_text(CONFIG, encoding="utf-8")
    result = training.train_from_config(
        load_config(tmp_path / "c.toml", {"training.validation_bleu": 0,
                                          "training.keep": "last"}),
        callbacks=[StopAfterFirst()], verbose=0, log=lambda line: None)
    assert result["epochs"] == 1 and len(result["history"]["loss"]) == 1
