"""The plain-Keras baseline of the benchmark: the same architecture as `Seq2Seq`,
written the usual Keras way (teacher forced only, no custom `train_step`).

Architecture (matches `keras_seq2seq.Seq2Seq(bidirectional=True, encoder_units=E,
units=U, cell_type=..., attention=...)` weight for weight):

* source `Embedding(mask_zero=True)` -> `Bidirectional(GRU|LSTM(E,
  return_sequences=True, return_state=True))`, outputs `(B, Ts, 2E)`;
* bridge: the forward and backward final states are concatenated and mapped by one
  `Dense(U, tanh)` per state (h, and c for LSTM) to the decoder's initial state;
* target `Embedding(mask_zero=True)` -> `GRU|LSTM(U, return_sequences=True)` with
  `initial_state`;
* attention over the encoder outputs, masked by the source padding:
  - "dot": `keras.layers.Attention()([h, memory])`;
  - "general": `keras.layers.Attention()([h, memory, Dense(U, use_bias=False)(memory)])`
    (the key is W_a h̄ₛ, so score = hₜᵀ W_a h̄ₛ);
  - "concat": `keras.layers.AdditiveAttention()` on `Dense(A, use_bias=False)(h)`
    (query) and `Dense(A)(memory)` (key): score = v_aᵀ tanh(W_q hₜ + W_k h̄ₛ + b);
* `Concatenate()([context, h])` -> `Dense(U, tanh, use_bias=False)` -> `Dense(vocab)`
  logits;
* `compile(loss=SparseCategoricalCrossentropy(from_logits=True, ignore_class=0))`.
"""

import keras
from keras import layers


def build_baseline(source_vocabulary_size, target_vocabulary_size, embedding_dim=256,
                   units=512, encoder_units=256, cell_type="gru", attention="general",
                   attention_units=None, name="baseline"):
    """Builds (uncompiled) the plain-Keras attention encoder-decoder.

    Args:
        source_vocabulary_size, target_vocabulary_size: vocabulary sizes (id 0 = pad).
        embedding_dim: embedding size of both sides.
        units: decoder GRU/LSTM size (and the bridge's output size).
        encoder_units: encoder size per direction (outputs have 2 * encoder_units).
        cell_type: "gru" or "lstm".
        attention: "dot", "general" or "concat".
        attention_units: width of concat's tanh layer. Defaults to `units`.
        name: model name.

    Returns:
        A functional `keras.Model` taking `[source_ids, decoder_input_ids]` and
        returning float32 logits `(batch, T, target_vocabulary_size)`.
    """
    rnn = layers.GRU if cell_type == "gru" else layers.LSTM
    attention_units = units if attention_units is None else attention_units
    memory_dim = 2 * encoder_units
    if attention == "dot" and memory_dim != units:
        raise ValueError("dot attention needs 2 * encoder_units == units")

    source_ids = keras.Input(shape=(None,), dtype="int32", name="source_ids")
    decoder_input_ids = keras.Input(shape=(None,), dtype="int32",
                                    name="decoder_input_ids")
    source_mask = keras.ops.not_equal(source_ids, 0)
    target_mask = keras.ops.not_equal(decoder_input_ids, 0)

    # --- encoder
    x = layers.Embedding(source_vocabulary_size, embedding_dim, mask_zero=True,
                         name="source_embedding")(source_ids)
    encoded = layers.Bidirectional(
        rnn(encoder_units, return_sequences=True, return_state=True, name="encoder"),
        name="bidirectional")(x)
    memory, states = encoded[0], encoded[1:]
    half = len(states) // 2
    states = [layers.Concatenate(name=f"concat_state_{i}")([f, b])
              for i, (f, b) in enumerate(zip(states[:half], states[half:]))]
    initial_state = [layers.Dense(units, activation="tanh", name=f"bridge_{i}")(s)
                     for i, s in enumerate(states)]

    # --- decoder (teacher forced)
    y = layers.Embedding(target_vocabulary_size, embedding_dim, mask_zero=True,
                         name="target_embedding")(decoder_input_ids)
    h = rnn(units, return_sequences=True, name="decoder")(y, initial_state=initial_state)

    # --- attention
    masks = [target_mask, source_mask]
    if attention == "dot":
        context = layers.Attention(name="attention")([h, memory], mask=masks)
    elif attention == "general":
        keys = layers.Dense(units, use_bias=False, name="W_a")(memory)
        context = layers.Attention(name="attention")([h, memory, keys], mask=masks)
    elif attention == "concat":
        query = layers.Dense(attention_units, use_bias=False, name="W_q")(h)
        keys = layers.Dense(attention_units, name="W_k")(memory)
        context = layers.AdditiveAttention(name="attention")(
            [query, memory, keys], mask=masks)
    else:
        raise ValueError(f"unknown attention {attention!r}")

    attentional = layers.Dense(units, activation="tanh", use_bias=False,
                               name="attentional")(
        layers.Concatenate(name="concat_context")([context, h]))
    logits = layers.Dense(target_vocabulary_size, name="projection")(attentional)
    return keras.Model([source_ids, decoder_input_ids], logits, name=name)


def compile_baseline(model, learning_rate=1e-3, jit_compile=False):
    """Compiles with Adam and the masked (ignore_class=0) cross-entropy."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                        ignore_class=0),
        jit_compile=jit_compile)
    return model


def make_greedy_decoder(model, start_id=2, end_id=3):
    """Greedy decoding of the baseline the way one writes it by hand in plain Keras.

    The model is teacher-forced only, so each step reruns it on the prefix decoded
    so far and takes the argmax of the last position (the encoder too: the functional
    model has no step API). The model call is a `tf.function` over unknown shapes,
    the fastest plain Keras gives it (one trace, no retracing as the prefix grows).

    Args:
        model: a built baseline (`build_baseline`).
        start_id, end_id: the `[START]` / `[END]` ids.

    Returns:
        `decode(source_ids, steps, stop_at_end=True) -> int32 numpy (B, steps')`:
        the output ids after `[START]`, `[END]` kept and 0 after it; it stops when
        every row has ended (or after `steps` steps; `stop_at_end=False` always runs
        `steps` steps, a fixed amount of work for benchmarks).
    """
    import numpy as np
    import tensorflow as tf

    last_argmax = tf.function(
        lambda source, prefix: tf.argmax(model([source, prefix], training=False)[:, -1],
                                         axis=-1, output_type=tf.int32),
        input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2)

    def decode(source_ids, steps, stop_at_end=True):
        source = tf.constant(source_ids, tf.int32)
        decoded = np.full((source.shape[0], 1), start_id, np.int32)
        done = np.zeros(source.shape[0], bool)
        for _ in range(int(steps)):
            token = last_argmax(source, tf.constant(decoded)).numpy()
            token = np.where(done, 0, token).astype(np.int32)
            decoded = np.concatenate([decoded, token[:, None]], axis=1)
            done |= token == end_id
            if stop_at_end and done.all():
                break
        return decoded[:, 1:]

    return decode
