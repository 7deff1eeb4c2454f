"""Atomic `.keras` saving and clear errors for missing, truncated or corrupted files."""

import os
import zipfile

import keras
import numpy as np
import pytest

import keras_seq2seq as ks
from keras_seq2seq.saving import (
    ModelFileError,
    ModelFileNotFoundError,
    load_model,
    save_model,
)
from keras_seq2seq.text import CharacterTokenizer

SOURCES = ["3 March 2023", "Mar 3, 23", "03/03/2023", "4 April 1999"]
TARGETS = ["2023-03-03", "2023-03-03", "2023-03-03", "1999-04-04"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model with tokenizers, trained for 2 steps; and its saved file."""
    source = CharacterTokenizer.from_texts(SOURCES, name="source_tokenizer")
    target = CharacterTokenizer.from_texts(TARGETS, name="target_tokenizer")
    keras.utils.set_random_seed(0)
    model = ks.Seq2Seq(source.vocabulary_size, target.vocabulary_size, embedding_dim=8,
                       units=16, max_decode_length=8, source_tokenizer=source,
                       target_tokenizer=target)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    source_ids = source.tokenize(SOURCES).to_tensor().numpy()
    target_ids = target.tokenize(TARGETS).to_tensor().numpy()
    ones = np.ones((len(TARGETS), 1), "int32")
    decoder_input = np.concatenate([2 * ones, target_ids], axis=1)  # [START] y
    labels = np.concatenate([target_ids, 3 * ones], axis=1)  # y [END]
    model.fit((source_ids, decoder_input), labels, batch_size=2, epochs=1, verbose=0)
    path = str(tmp_path_factory.mktemp("saving") / "model.keras")
    assert save_model(model, path) == path
    return model, path


def test_round_trip(trained):
    model, path = trained
    restored = load_model(path)
    assert type(restored) is ks.Seq2Seq
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations) == 2
    texts = SOURCES + ["", "12 May 2001"]
    assert restored.translate(texts) == model.translate(texts)
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_overwrite_is_refused_then_allowed(trained, tmp_path):
    model, _ = trained
    path = tmp_path / "model.keras"
    path.write_bytes(b"previous")
    with pytest.raises(FileExistsError, match="overwrite=True") as info:
        save_model(model, path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == b"previous"
    save_model(model, path, overwrite=True)
    assert zipfile.is_zipfile(path)
    assert os.listdir(tmp_path) == ["model.keras"]  # no temporary left


def test_failure_mid_save_leaves_nothing(trained, tmp_path, monkeypatch):
    model, _ = trained

    def broken_save(model, filepath, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"PK\x03\x04 partial")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(keras.saving, "save_model", broken_save)
    path = tmp_path / "model.keras"
    with pytest.raises(OSError, match="simulated"):
        save_model(model, path)
    assert os.listdir(tmp_path) == []
    path.write_bytes(b"previous")
    with pytest.raises(OSError, match="simulated"):
        save_model(model, path, overwrite=True)
    assert os.listdir(tmp_path) == ["model.keras"] and path.read_bytes() == b"previous"


def test_save_arguments(trained, tmp_path):
    model, _ = trained
    with pytest.raises(ValueError, match=".keras"):
        save_model(model, tmp_path / "model.h5")
    nested = tmp_path / "a" / "b" / "model.keras"
    save_model(model, nested)  # creates the directories
    assert zipfile.is_zipfile(nested)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.keras"
    with pytest.raises(ValueError, match="No model file") as info:
        load_model(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, ModelFileNotFoundError)


@pytest.mark.parametrize("damage", ["truncated", "random", "empty"])
def test_truncated_or_random_file(trained, tmp_path, damage):
    _, path = trained
    data = open(path, "rb").read()
    broken = tmp_path / f"{damage}.keras"
    broken.write_bytes({"truncated": data[: len(data) // 2],
                        "random": np.random.default_rng(0).bytes(len(data)),
                        "empty": b""}[damage])
    with pytest.raises(ModelFileError) as info:
        load_model(broken)
    message = str(info.value)
    assert str(broken) in message
    assert ("truncated" in message) if damage != "empty" else ("empty" in message)
    assert isinstance(info.value, ValueError)
    assert info.value.__cause__ is None  # no traceback from deep inside


def test_corrupted_entry_and_wrong_contents(trained, tmp_path):
    _, path = trained
    data = bytearray(open(path, "rb").read())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("model.weights.h5")
    # Flip bytes inside the weights entry's data: the zip directory is intact.
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
    data[start:start + 16] = bytes(255 - b for b in data[start:start + 16])
    corrupted = tmp_path / "corrupted.keras"
    corrupted.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="corrupted") as error:
        load_model(corrupted)
    assert str(corrupted) in str(error.value)

    not_a_model = tmp_path / "other.keras"
    with zipfile.ZipFile(not_a_model, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ModelFileError, match="not a Keras model"):
        load_model(not_a_model)

    bad_config = tmp_path / "bad_config.keras"
    with zipfile.ZipFile(bad_config, "w") as archive:
        archive.writestr("config.json", "{not json")
        archive.writestr("metadata.json", "{}")
        archive.writestr("model.weights.h5", b"nothing")
    with pytest.raises(ModelFileError, match="Could not load the Keras model") as error:
        load_model(bad_config)
    assert str(bad_config) in str(error.value)
    assert error.value.original_error is not None

    with pytest.raises(ModelFileError, match="directory"):
        load_model(tmp_path)


def test_reloaded_model_continues_fit_where_it_stopped(tmp_path):
    """A decaying token-level schedule, saved mid-run with `model.save` and reloaded
    with `keras.models.load_model` (no custom_objects): same optimizer moments, and
    `fit` continues with the ratio the schedule gives at the restored step and ends
    with the weights of the uninterrupted run."""
    from tests.helpers import reverse_task

    source, decoder_input, labels = reverse_task(n=128)
    fit = dict(x=(source, decoder_input), y=labels, batch_size=32, verbose=0,
               shuffle=False)

    def build():
        keras.utils.set_random_seed(4)
        model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16,
                           teacher_forcing=ks.schedules.LinearDecay(slope=0.05,
                                                                    minimum=0.3),
                           teacher_forcing_granularity="token")
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        return model

    uninterrupted = build()
    uninterrupted.fit(epochs=3, **fit)
    first = build()
    first.fit(epochs=1, **fit)
    first.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    assert int(restored.optimizer.iterations) == 4
    for a, b in zip(first.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    history = restored.fit(epochs=2, **fit)
    # steps 4..7 then 8..11: each epoch logs the ratio of its last step
    expected = [max(0.3, 1.0 - 0.05 * step) for step in (7, 11)]
    np.testing.assert_allclose(history.history["teacher_forcing_ratio"], expected,
                               rtol=1e-6)
    for a, b in zip(restored.get_weights(), uninterrupted.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_model_save_and_model_checkpoint_are_atomic(trained, tmp_path, monkeypatch):
    """`Seq2Seq.save` (so `ModelCheckpoint` too) goes through the atomic writer."""
    model, _ = trained
    path = tmp_path / "checkpoint.keras"
    model.save(path)                                   # Keras's default overwrite=True
    model.save(path)
    assert os.listdir(tmp_path) == ["checkpoint.keras"]
    np.testing.assert_array_equal(load_model(path).get_weights()[0],
                                  model.get_weights()[0])
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(path, overwrite=False)

    def broken_save(model, filepath, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"PK\x03\x04 partial")
        raise OSError("disk full (simulated)")

    before = path.read_bytes()
    monkeypatch.setattr(keras.saving, "save_model", broken_save)
    checkpoint = keras.callbacks.ModelCheckpoint(str(path))
    checkpoint.set_model(model)
    with pytest.raises(OSError, match="simulated"):
        checkpoint.on_epoch_end(0, logs={"loss": 1.0})
    assert os.listdir(tmp_path) == ["checkpoint.keras"] and path.read_bytes() == before
