"""Seq2SeqEncoder: shapes, the state bridge, masking, against a numpy encoder."""

import itertools

import numpy as np
import pytest

from keras_seq2seq.models import Seq2SeqEncoder
from tests.helpers import run_layer_test

VOCABULARY, EMBEDDING, UNITS = 11, 5, 6
BATCH, LENGTH = 3, 7


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_step(cell_type, weights, x, state):
    """One LSTM/GRU step as Keras defines it (GRU: reset_after=True)."""
    kernel, recurrent, bias = (np.asarray(w, "float64") for w in weights)
    u = recurrent.shape[0]
    if cell_type == "gru":  # gates z, r, h; bias rows: input, recurrent
        (h,) = state
        xi, hi = x @ kernel + bias[0], h @ recurrent + bias[1]
        z = _sigmoid(xi[:u] + hi[:u])
        r = _sigmoid(xi[u:2 * u] + hi[u:2 * u])
        candidate = np.tanh(xi[2 * u:] + r * hi[2 * u:])
        h = z * h + (1 - z) * candidate
        return [h]
    h, c = state  # gates i, f, c, o
    g = x @ kernel + h @ recurrent + bias
    i, f, o = _sigmoid(g[:u]), _sigmoid(g[u:2 * u]), _sigmoid(g[3 * u:])
    c = f * c + i * np.tanh(g[2 * u:3 * u])
    return [o * np.tanh(c), c]


def _np_run(cell_type, weights, xs):
    """Runs over the rows of `xs` (real steps only) from zero states."""
    u = weights[1].shape[0]
    state = [np.zeros(u)] * (2 if cell_type == "lstm" else 1)
    outputs = []
    for x in xs:
        state = _np_step(cell_type, weights, x, state)
        outputs.append(state[0])
    return np.stack(outputs), state


def _np_encoder(encoder, ids):
    """The encoder written out in numpy, one sequence at a time (right padding).

    Returns, per sequence, the outputs at its real positions and the decoder's initial
    states (a list over layers of [h, c] or [h]).
    """
    embeddings = np.asarray(encoder.embedding.embeddings, "float64")
    per_layer = encoder.states_per_layer
    results = []
    for row in ids:
        x = embeddings[row[row != 0]]
        decoder_states = []
        for i, layer in enumerate(encoder.rnn_layers):
            if encoder.bidirectional:
                forward, f_states = _np_run(encoder.cell_type,
                                            layer.forward_layer.get_weights(), x)
                backward, b_states = _np_run(encoder.cell_type,
                                             layer.backward_layer.get_weights(), x[::-1])
                x = np.concatenate([forward, backward[::-1]], axis=-1)
                states = [np.concatenate([f, b]) for f, b in zip(f_states, b_states)]
            else:
                x, states = _np_run(encoder.cell_type, layer.get_weights(), x)
            if encoder.uses_bridge:
                bridges = encoder.bridges[i * per_layer:(i + 1) * per_layer]
                states = [np.tanh(s @ kernel + bias) for s, (kernel, bias) in
                          zip(states, (b.get_weights() for b in bridges))]
            decoder_states.append(states)
        results.append((x, decoder_states))
    return results


def _ids(lengths, width=LENGTH, seed=0):
    """Right-padded ids in [1, VOCABULARY), one row per length."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, VOCABULARY, (len(lengths), width)).astype("int32")
    for row, length in zip(ids, lengths):
        row[length:] = 0
    return ids


def _encoder(seed=0, **kwargs):
    """A built encoder with random weights (biases included, so their layout counts)."""
    encoder = Seq2SeqEncoder(VOCABULARY, embedding_dim=EMBEDDING, units=UNITS, **kwargs)
    encoder.build((None, None))
    rng = np.random.default_rng(seed)
    for weight in encoder.weights:
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    return encoder


@pytest.mark.parametrize("cell_type, num_layers, bidirectional, decoder_units",
                         itertools.product(["lstm", "gru"], [1, 2], [False, True],
                                           [None, 4]))
def test_output_and_decoder_state_shapes(cell_type, num_layers, bidirectional,
                                         decoder_units):
    """Outputs are (B, T, units x directions); each layer hands the decoder [h, c] or
    [h] of decoder_units features, through a tanh bridge exactly when the sizes differ
    or the encoder is bidirectional. run_layer_test also checks the config round trip
    and that a rebuilt encoder with the same weights gives the same outputs."""
    kwargs = dict(embedding_dim=EMBEDDING, units=UNITS, num_layers=num_layers,
                  cell_type=cell_type, bidirectional=bidirectional,
                  decoder_units=decoder_units)
    output_dim = UNITS * (2 if bidirectional else 1)
    state = (BATCH, decoder_units or UNITS)
    states_per_layer = 2 if cell_type == "lstm" else 1
    expected = [(BATCH, LENGTH, output_dim)] + [state] * (num_layers * states_per_layer)
    encoder, outputs = run_layer_test(Seq2SeqEncoder, {"vocabulary_size": VOCABULARY,
                                                       **kwargs},
                                      _ids([LENGTH, 4, 1]), expected_output_shape=expected)
    assert encoder.output_dim == output_dim
    assert encoder.get_config()["decoder_units"] == (decoder_units or UNITS)
    bridged = bidirectional or decoder_units not in (None, UNITS)
    assert encoder.uses_bridge is bridged
    assert len(encoder.bridges) == (num_layers * states_per_layer if bridged else 0)
    _, states = encoder(_ids([LENGTH, 4, 1]))
    assert [len(layer_states) for layer_states in states] == [states_per_layer] * num_layers


@pytest.mark.parametrize("config", [
    dict(cell_type="gru"),
    dict(cell_type="lstm"),
    dict(cell_type="lstm", decoder_units=4),
    dict(cell_type="gru", bidirectional=True),
    dict(cell_type="lstm", bidirectional=True, num_layers=2, decoder_units=9),
    dict(cell_type="gru", num_layers=2),
], ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_matches_a_numpy_encoder(config):
    """Embedding, stacked (bi)RNN over the real tokens only, concatenated directions,
    tanh bridges: outputs at real positions and the decoder's states, by hand."""
    encoder = _encoder(**config)
    ids = _ids([LENGTH, 3, 5, 1], seed=1)
    outputs, states = encoder(ids)
    for b, (ref_outputs, ref_states) in enumerate(_np_encoder(encoder, ids)):
        length = len(ref_outputs)
        np.testing.assert_allclose(np.asarray(outputs)[b, :length], ref_outputs,
                                   rtol=1e-4, atol=1e-5)
        assert len(states) == len(ref_states)
        for layer_states, ref_layer_states in zip(states, ref_states):
            assert len(layer_states) == len(ref_layer_states)
            for s, ref in zip(layer_states, ref_layer_states):
                np.testing.assert_allclose(np.asarray(s)[b], ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell_type, bidirectional",
                         itertools.product(["lstm", "gru"], [False, True]))
def test_padding_changes_neither_real_positions_nor_final_states(cell_type,
                                                                 bidirectional):
    """Each right-padded row of a batch (padded further than its longest row) gives,
    at its real positions and in every decoder state, what the row gives alone and
    unpadded: id 0 is masked in both directions and in every layer."""
    encoder = _encoder(cell_type=cell_type, bidirectional=bidirectional, num_layers=2)
    lengths = [5, 2, 4]
    ids = _ids(lengths, width=LENGTH + 2, seed=2)
    outputs, states = encoder(ids)
    for b, length in enumerate(lengths):
        alone_outputs, alone_states = encoder(ids[b:b + 1, :length])
        np.testing.assert_allclose(np.asarray(outputs)[b, :length],
                                   np.asarray(alone_outputs)[0], rtol=1e-5, atol=1e-6)
        for layer_states, alone_layer_states in zip(states, alone_states):
            for s, alone in zip(layer_states, alone_layer_states):
                np.testing.assert_allclose(np.asarray(s)[b], np.asarray(alone)[0],
                                           rtol=1e-5, atol=1e-6)


def test_dropout_applies_only_in_training():
    ids = _ids([LENGTH, 3])
    plain = _encoder(cell_type="gru", num_layers=2)
    dropped = _encoder(cell_type="gru", num_layers=2, dropout=0.5)
    inference, _ = dropped(ids, training=False)
    np.testing.assert_array_equal(inference, plain(ids)[0])
    training, _ = dropped(ids, training=True)
    assert not np.allclose(training, inference)


@pytest.mark.parametrize("bad, name", [
    ({"cell_type": "rnn"}, "cell_type"),
    ({"units": 0}, "units"),
    ({"num_layers": 0}, "num_layers"),
    ({"decoder_units": 2.5}, "decoder_units"),
    ({"dropout": 1.0}, "dropout"),
    ({"embedding_dim": True}, "embedding_dim"),
])
def test_bad_arguments_name_the_argument(bad, name):
    with pytest.raises(ValueError, match=name):
        Seq2SeqEncoder(VOCABULARY, **bad)
