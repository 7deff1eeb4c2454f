"""Three-way tying (`tie_embeddings="all"`): one matrix embeds the source, the target
and projects the output; it trains, saves, loads and exports as one weight."""

import keras
import numpy as np
import pytest

import keras_seq2seq as ks
from keras_seq2seq.text import CharacterTokenizer
from tests.helpers import run_model_saving_test


def _model(tie, vocabulary=12):
    keras.utils.set_random_seed(3)
    return ks.Seq2Seq(vocabulary, vocabulary, embedding_dim=8, units=16,
                      bidirectional=True, encoder_units=8, tie_embeddings=tie)


def _parameters(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_all_ties_the_source_embedding_to_the_target_and_output(reverse_data):
    tied, target_only = _model("all"), _model(True)
    assert tied.encoder.embedding is tied.decoder.embedding
    # One 12 x 8 matrix fewer than target-only tying, and nothing else differs.
    assert _parameters(target_only) - _parameters(tied) == 12 * 8
    source, decoder_input, labels = reverse_data
    tied.compile(optimizer=keras.optimizers.SGD(0.5))
    before = keras.ops.convert_to_numpy(tied.encoder.embedding.embeddings).copy()
    tied.fit((source[:64], decoder_input[:64]), labels[:64], batch_size=64, epochs=1,
             verbose=0)
    after = keras.ops.convert_to_numpy(tied.decoder.embedding.embeddings)
    assert not np.allclose(before, after)  # trained through all three uses
    # The logits use the same matrix: rows of the output projection are embeddings.
    memory, states = tied.encoder(source[:2])
    attentional = np.ones((1, 8), "float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(tied.decoder.project(attentional)),
        attentional @ after.T + keras.ops.convert_to_numpy(tied.decoder.output_bias),
        rtol=1e-5, atol=1e-6)


def test_a_tied_model_round_trips_and_keeps_the_sharing(reverse_data, tmp_path):
    source, decoder_input, _ = reverse_data
    model = _model("all")
    model((source[:4], decoder_input[:4]))
    restored = run_model_saving_test(model, (source[:4], decoder_input[:4]), tmp_path)
    assert restored.encoder.embedding is restored.decoder.embedding
    assert restored.tie_embeddings == "all"
    assert len(restored.weights) == len(model.weights)


def test_target_is_an_alias_of_true():
    assert _model("target").tie_embeddings is True


@pytest.mark.parametrize("tie", ["source", 1, 0.5])
def test_bad_values_name_the_argument(tie):
    with pytest.raises(ValueError, match="tie_embeddings"):
        _model(tie)


def test_all_needs_one_vocabulary():
    with pytest.raises(ValueError, match="source_vocabulary_size=12, "
                                         "target_vocabulary_size=13"):
        ks.Seq2Seq(12, 13, tie_embeddings="all")
    source = CharacterTokenizer.from_texts(["abc"])
    target = CharacterTokenizer.from_texts(["abd"])
    with pytest.raises(ValueError, match="different vocabularies"):
        ks.Seq2Seq(source.vocabulary_size, target.vocabulary_size, tie_embeddings="all",
                   source_tokenizer=source, target_tokenizer=target)
    joint = CharacterTokenizer.from_texts(["abc", "abd"])
    model = ks.Seq2Seq(joint.vocabulary_size, joint.vocabulary_size, tie_embeddings="all",
                       source_tokenizer=joint, target_tokenizer=joint)
    assert model.encoder.embedding is model.decoder.embedding
