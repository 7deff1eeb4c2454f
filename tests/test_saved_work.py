"""Saved work survives refactors: files written by the code of commit e131dc5.

`tests/data/saved_e131dc5/` holds a tiny `.keras` model (character source tokenizer,
word target tokenizer, bidirectional GRU, general attention, a piecewise teacher-forcing
schedule) with random weights, its beam-2 SavedModel export, and the translations that
code produced (`expected.json`). Today's code must load both and translate identically.
"""

import json
import pathlib

import keras
import pytest
import tensorflow as tf

import keras_seq2seq as ks
from keras_seq2seq.export import load_translator

DATA = pathlib.Path(__file__).parent / "data" / "saved_e131dc5"
EXPECTED = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))


def test_a_keras_file_of_e131dc5_loads_and_translates_identically():
    model = keras.models.load_model(DATA / "tiny.keras")
    assert isinstance(model, ks.Seq2Seq)
    texts = EXPECTED["texts"]
    assert model.translate(texts) == EXPECTED["greedy"]
    assert model.translate(texts, method="beam", beam_width=2,
                           length_penalty=0.6) == EXPECTED["beam2_lp0.6"]


def test_an_export_of_e131dc5_loads_and_translates_identically():
    translator = load_translator(DATA / "tiny_export")
    assert translator.translate(EXPECTED["texts"]) == EXPECTED["beam2_lp0.6"]
    assert translator.metadata["beam_width"] == 2
    out = translator.module.translate(tf.constant(EXPECTED["texts"]))
    assert out["tokens"].shape[1] == 8


def test_an_old_export_says_what_it_lacks_for_scoring_and_n_best():
    """Exports written before scoring have no score / n_best endpoints: a clear error."""
    translator = load_translator(DATA / "tiny_export")
    with pytest.raises(ValueError, match="has no 'score' endpoint.*exporting again"):
        translator.score(["a"], ["b"])
    with pytest.raises(ValueError, match="has no 'n_best' endpoint"):
        translator.n_best(["a"])
    # Its translate outputs have no token strings; the metadata has no n_best.
    assert "source_tokens" not in translator.translate_full(["a"])
    assert translator.metadata.get("n_best") is None
