"""The decoder's step function against its whole-sequence forms."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq2seq.layers import AttentionDecoder
from keras_seq2seq.models import scheduled_sampling
from tests.helpers import run_serialization_test

CONFIGS = [
    dict(cell_type="lstm", attention="general"),
    dict(cell_type="gru", attention="concat", attention_depth=2, num_layers=2),
    dict(cell_type="lstm", attention="dot", input_feeding=True, tie_embeddings=True,
         embedding_dim=16),
    dict(cell_type="gru", attention="dot", attention_scale=True, input_feeding=True),
    dict(cell_type="lstm", attention="general", local_attention="monotonic",
         attention_window=1),
    dict(cell_type="gru", attention="concat", local_attention="predictive",
         attention_window=2, input_feeding=True),
    dict(cell_type="gru", attention="general", deep_output=True),
    dict(cell_type="gru", attention="general", deep_output=True,
         attentional_activation="linear", input_feeding=True),
    dict(cell_type="lstm", attention="dot", input_feeding=True, deep_output=True,
         tie_embeddings=True, embedding_dim=16),
]


def _decoder_inputs(seed=0):
    rng = np.random.default_rng(seed)
    memory = rng.normal(size=(3, 7, 16)).astype("float32")
    mask = np.ones((3, 7), bool)
    mask[0, 4:] = False
    ids = rng.integers(4, 20, (3, 5)).astype("int32")
    ids[:, 0] = 2
    return ids, memory, mask


@pytest.mark.parametrize("config", CONFIGS)
def test_step_by_step_logits_equal_teacher_forced_logits(config):
    ids, memory, mask = _decoder_inputs()
    decoder = AttentionDecoder(20, **{"embedding_dim": 8, "units": 16, **config})
    states = [[tf.random.normal([3, 16]) for _ in range(2 if config["cell_type"] == "lstm" else 1)]
              for _ in range(config.get("num_layers", 1))]
    logits, weights = decoder(ids, memory, memory_mask=mask, initial_state=states,
                              return_attention=True)
    state = decoder.initial_step_state(memory, mask, states)
    for t in range(ids.shape[1]):
        step_logits, state, step_weights = decoder.step(ids[:, t], state)
        np.testing.assert_allclose(step_logits, logits[:, t], atol=1e-5)
        np.testing.assert_allclose(step_weights, weights[:, t], atol=1e-6)
    np.testing.assert_array_equal(state["time"], [5, 5, 5])
    np.testing.assert_array_equal(state["source_lengths"], [4, 7, 7])
    # The loop form (used by input feeding and scheduled sampling) agrees too.
    loop_logits = decoder.run_loop(ids, memory, mask, states)
    np.testing.assert_allclose(loop_logits, logits, atol=1e-5)


@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[3], CONFIGS[6], CONFIGS[7]],
                         ids=["lstm", "gru-input-feeding", "deep-output", "deep-linear-if"])
def test_outputs_at_some_positions_are_those_of_the_whole_pass(config):
    """`at=(row, step)` indices: the logits (or attentional vectors) of those
    positions only, equal to the whole pass's at the same places."""
    ids, memory, mask = _decoder_inputs()
    decoder = AttentionDecoder(20, **{"embedding_dim": 8, "units": 16, **config})
    at = tf.constant([[0, 1], [2, 4], [1, 0], [2, 2], [0, 3]], tf.int64)
    for projected in (True, False):
        whole = decoder(ids, memory, memory_mask=mask, projected=projected).numpy()
        some = decoder(ids, memory, memory_mask=mask, projected=projected, at=at).numpy()
        assert some.shape == (5, whole.shape[-1])
        np.testing.assert_allclose(some, whole[at[:, 0], at[:, 1]], atol=1e-6)
    with pytest.raises(ValueError, match="return_attention"):
        decoder(ids, memory, memory_mask=mask, at=at, return_attention=True)


@pytest.mark.parametrize("rows", [0, 1, 7])
def test_projected_feedback_picks_chunk_by_chunk_what_the_whole_projection_picks(rows):
    """Chunks of 3 rows (the last one short, or the only one empty): the argmax of
    the whole projection, and samples keyed on the chunk, repeatable."""
    ids, memory, mask = _decoder_inputs()
    decoder = AttentionDecoder(20, embedding_dim=8, units=16, cell_type="gru")
    decoder(ids, memory, memory_mask=mask)
    attentional = tf.random.stateless_normal([rows, decoder.attentional_dim], [1, 2])
    key = tf.constant([3, 4])
    whole = np.argmax(decoder.project(attentional).numpy(), -1) if rows else []
    picked = scheduled_sampling.projected_feedback(decoder, attentional, "argmax", key,
                                                   chunk_rows=3)
    assert picked.dtype == tf.int32
    np.testing.assert_array_equal(picked, whole)
    sampled = [scheduled_sampling.projected_feedback(decoder, attentional, "sample", key,
                                                     chunk_rows=3) for _ in range(2)]
    np.testing.assert_array_equal(sampled[0], sampled[1])
    assert sampled[0].shape == (rows,) and all(0 <= t < 20 for t in sampled[0].numpy())


def test_deep_output_appends_the_embedding_to_the_attentional_layer_input():
    """h̃ = tanh(W_c [c; h; e]): with W_c's embedding rows zeroed the deep decoder
    equals a plain one with the other rows; with them, the logits move."""
    ids, memory, mask = _decoder_inputs()
    deep = AttentionDecoder(20, embedding_dim=8, units=16, deep_output=True)
    plain = AttentionDecoder(20, embedding_dim=8, units=16)
    deep_logits = deep(ids, memory, memory_mask=mask)
    plain(ids, memory, memory_mask=mask)
    kernel = deep.attentional_dense.kernel.numpy()
    assert kernel.shape == (16 + 16 + 8, 16)
    for source, target in zip(deep.weights, plain.weights):
        value = source.numpy()
        target.assign(value[:32] if source is deep.attentional_dense.kernel else value)
    deep.attentional_dense.kernel.assign(np.concatenate([kernel[:32], np.zeros((8, 16))]))
    np.testing.assert_allclose(deep(ids, memory, memory_mask=mask),
                               plain(ids, memory, memory_mask=mask), atol=1e-6)
    assert not np.allclose(deep_logits, plain(ids, memory, memory_mask=mask), atol=1e-3)


def test_linear_attentional_layer_has_no_tanh():
    """attentional_activation="linear": h̃ = W_c [c; h], so the logits less their bias
    are linear in W_c (doubling it doubles them); with the tanh they are not. The
    setting survives get_config, and a bad value is named."""
    ids, memory, mask = _decoder_inputs()

    def logits_less_bias(decoder, factor):
        kernel = decoder.attentional_dense.kernel
        original = kernel.numpy()
        kernel.assign(original * factor)
        logits = decoder(ids, memory, memory_mask=mask).numpy()
        kernel.assign(original)
        return logits - decoder.projection.bias.numpy()

    linear = AttentionDecoder(20, embedding_dim=8, units=16,
                              attentional_activation="linear")
    tanh = AttentionDecoder(20, embedding_dim=8, units=16)
    for decoder in (linear, tanh):
        decoder(ids, memory, memory_mask=mask)
        decoder.projection.bias.assign(np.linspace(-1, 1, 20).astype("float32"))
    np.testing.assert_allclose(logits_less_bias(linear, 2.0),
                               2.0 * logits_less_bias(linear, 1.0), rtol=1e-5, atol=1e-5)
    assert not np.allclose(logits_less_bias(tanh, 2.0),
                           2.0 * logits_less_bias(tanh, 1.0), atol=1e-3)
    restored = AttentionDecoder.from_config(linear.get_config())
    assert restored.attentional_activation == "linear"
    with pytest.raises(ValueError, match="attentional_activation"):
        AttentionDecoder(20, attentional_activation="relu")


def test_run_loop_feeds_back_predictions_where_truth_is_not_used():
    ids, memory, mask = _decoder_inputs()
    decoder = AttentionDecoder(20, embedding_dim=8, units=16)
    free = scheduled_sampling.sequential_logits(decoder, ids, memory, mask, None,
                                                use_truth=np.zeros(ids.shape, bool))
    state = decoder.initial_step_state(memory, mask)
    token = ids[:, 0]
    for t in range(ids.shape[1]):
        logits, state, _ = decoder.step(token, state)
        np.testing.assert_allclose(logits, free[:, t], atol=1e-5)
        token = tf.argmax(logits, -1, output_type=tf.int32)
    forced = scheduled_sampling.sequential_logits(decoder, ids, memory, mask, None,
                                                  use_truth=np.ones(ids.shape, bool))
    np.testing.assert_allclose(forced, decoder(ids, memory, memory_mask=mask), atol=1e-5)


def test_tied_embeddings_project_with_the_embedding():
    ids, memory, mask = _decoder_inputs()
    decoder = AttentionDecoder(20, embedding_dim=8, units=16, tie_embeddings=True)
    decoder(ids, memory, memory_mask=mask)
    assert not hasattr(decoder, "projection")
    names = sorted(w.path.split("/")[-1] for w in decoder.trainable_weights)
    assert "output_bias" in names and "kernel" not in [n for n in names if "projection" in n]


@pytest.mark.parametrize("bad, name", [
    ({"cell_type": "rnn"}, "cell_type"),
    ({"attention": "additive"}, "attention"),
    ({"units": 0}, "units"),
    ({"dropout": 1.0}, "dropout"),
])
def test_bad_settings_name_the_argument(bad, name):
    with pytest.raises(ValueError, match=name):
        AttentionDecoder(20, **bad)


def test_config_round_trip():
    decoder = AttentionDecoder(20, embedding_dim=8, units=16, attention="concat",
                               attention_depth=2, input_feeding=True)
    run_serialization_test(decoder)
