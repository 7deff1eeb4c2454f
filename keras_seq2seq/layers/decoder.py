"""The attentional decoder: one step function, and the loops that call it.

Keras 3 RNN layers take no extra per-step inputs (no `constants`), so the decoder is
one layer that owns its loop. Its public step,

    step(token_ids, state) -> (logits, state, attention)

is what greedy, sampling and beam search decoders and the SavedModel export call.
Training uses the very same weights in faster forms:

* teacher forcing without input feeding: whole-sequence `keras.layers.LSTM`/`GRU`
  layers (whose cells the step calls), attention over all steps at once, one
  vocabulary projection;
* teacher forcing with input feeding: a `tf.while_loop` that carries only the RNN
  states and the attentional vector; the projection runs once after the loop;
* scheduled sampling: the same loop, where each step also projects (without
  gradient) to pick the token fed at the next step.

One step (Luong et al. 2015):

    x    = [embed(y_{t-1}); h̃_{t-1}]          (h̃_{t-1} only with input feeding)
    h_t  = stacked RNN cells(x, states)
    c_t  = attention(h_t, encoder outputs)
    h̃_t = tanh(W_c [c_t; h_t])               (the attentional vector; linear, without
                                              the tanh, with attentional_activation)
    logits = W_o h̃_t + b_o                   (W_o tied to the embedding if asked)
"""

import keras
import tensorflow as tf
from keras import ops

from keras_seq2seq._backend import require_tensorflow
from keras_seq2seq._serialization import constructor_config, register
from keras_seq2seq.checks import check_choice, check_positive_int
from keras_seq2seq.constants import ATTENTION_NAMES, PAD_ID
from keras_seq2seq.layers.attention import LuongAttention, make_score_layer
from keras_seq2seq.layers.local_attention import LocalAttention
from keras_seq2seq.layers.rnn import make_rnn, set_rnn_settings

require_tensorflow(__name__)

# What h̃ = W_c [c; h] passes through (AttentionDecoder's `attentional_activation`).
ATTENTIONAL_ACTIVATIONS = ("tanh", "linear")

LOCAL_MODES = (None, "monotonic", "predictive")


def make_attention(attention, units, depth=1, scale=False, local=None, window=10,
                   name="attention"):
    """An attention layer from a score name or a layer config.

    Args:
        attention: "dot", "general", "concat", a `LuongAttention` instance, or its
            serialized config.
        units: width of concat's tanh layers (and of local-p's position network).
        depth: number of concat's tanh layers.
        scale: scale the dot score by 1/√d.
        local: None (global attention), "monotonic" (local-m) or "predictive"
            (local-p), Luong et al. 2015.
        window: half-width D of the local window.
        name: layer name.

    Returns:
        A `LuongAttention` layer.
    """
    if isinstance(attention, LuongAttention):
        return attention
    if isinstance(attention, dict):
        return keras.saving.deserialize_keras_object(attention)
    check_choice("attention", attention, ATTENTION_NAMES)
    check_choice("local_attention", local, LOCAL_MODES)
    if local is not None:
        return LocalAttention(score=attention, mode=local, window=window, units=units,
                              depth=depth, scale=scale, name=name)
    return make_score_layer(attention, units=units, depth=depth, scale=scale, name=name)


@register
class AttentionDecoder(keras.layers.Layer):
    """Embedding + stacked LSTM/GRU + Luong attention + attentional layer + projection.

    Args:
        vocabulary_size: size of the target vocabulary (id 0 is padding).
        embedding_dim: target embedding size. Defaults to 128.
        units: RNN size of every layer. Defaults to 256.
        num_layers: number of stacked RNN layers. Defaults to 1.
        cell_type: "lstm" or "gru". Defaults to "lstm".
        attention: "dot", "general" or "concat" (or a `LuongAttention` layer / its
            config). Defaults to "general".
        attention_units: width of concat's tanh layers. Defaults to `units`.
        attention_depth: number of concat's tanh layers. Defaults to 1.
        attention_scale: scale the dot score by 1/√d. Defaults to False.
        local_attention: None (global), "monotonic" (local-m: window centred on
            the time index) or "predictive" (local-p). Defaults to None.
        attention_window: half-width D of the local window. Defaults to 10.
        deep_output: give the attentional layer the embedded input token too,
            h̃_t = tanh(W_c [c_t; h_t; e(y_{t-1})]) (a direct path from the previous
            token to the output, as Bahdanau et al.'s deep output). Defaults to False.
        attentional_activation: "tanh" (Luong et al.'s h̃ = tanh(W_c [...])) or
            "linear" (h̃ = W_c [...], a low-rank linear readout of the context, the
            state and, with `deep_output`, the embedding: on Multi30k it learns
            much faster per step, benchmarks/README.md). Defaults to "tanh".
        input_feeding: feed the previous attentional vector h̃_{t-1} into the RNN
            input (Luong 2015). Defaults to False.
        dropout: dropout rate on the embeddings, between RNN layers and on h̃.
            Defaults to 0.
        tie_embeddings: project h̃ with the transposed target embedding (then h̃
            has `embedding_dim` features). Defaults to False.
        shared_embedding: a `keras.layers.Embedding` of `vocabulary_size` x
            `embedding_dim` to use as the target embedding instead of a new one
            (`Seq2Seq(tie_embeddings="all")` passes the encoder's, so the source,
            target and output embeddings are one matrix). Not part of the config:
            whoever shares it passes it again. Defaults to None.
        start_id: accepted and ignored (configs written before 0.2 hold it; the
            `[START]` id is `keras_seq2seq.constants.START_ID`).
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        decoder_input_ids: int `(batch_size, T)`, `[START] y_1 … y_{T-1}` padded with 0.
        memory: `(batch_size, Ts, memory_dim)` encoder outputs.
        memory_mask: optional bool `(batch_size, Ts)`, True at real source tokens.
        initial_state: list over layers of lists of `(batch_size, units)` tensors
            (`[h, c]` for LSTM, `[h]` for GRU); zeros when omitted.
        training: Python bool or None.
        return_attention: also return the weights `(batch_size, T, Ts)`.
        projected: False returns the attentional vectors `(batch_size, T, A)` after
            dropout, in the compute dtype, instead of their logits (a loss that
            projects them itself, `keras_seq2seq.models.losses.
            projected_cross_entropy`, with `output_projection()`'s weights).
        at: optional int64 `(N, 2)` `(row, step)` indices: only those positions'
            outputs are computed past the attention (the attentional layer and
            the projection), and returned as `(N, vocabulary_size)` logits (or
            `(N, A)` vectors); not with `return_attention`. Parallel scheduled
            sampling projects only the predictions it feeds.

    Returns:
        float32 logits `(batch_size, T, vocabulary_size)` (teacher forced), and the
        attention weights when `return_attention=True`.
    """

    def __init__(self, vocabulary_size, embedding_dim=128, units=256, num_layers=1,
                 cell_type="lstm", attention="general", attention_units=None,
                 attention_depth=1, attention_scale=False, local_attention=None,
                 attention_window=10, input_feeding=False, deep_output=False,
                 attentional_activation="tanh", dropout=0.0, tie_embeddings=False,
                 start_id=None, shared_embedding=None,
                 **kwargs):
        super().__init__(**kwargs)
        set_rnn_settings(self, vocabulary_size, embedding_dim, units, num_layers,
                         cell_type, dropout)
        self.attention_units = check_positive_int(
            "attention_units", attention_units if attention_units is not None else units)
        self.attention_depth = check_positive_int("attention_depth", attention_depth)
        self.attention_scale = bool(attention_scale)
        self.local_attention = check_choice("local_attention", local_attention, LOCAL_MODES)
        self.attention_window = int(attention_window)
        self.input_feeding = bool(input_feeding)
        self.deep_output = bool(deep_output)
        self.attentional_activation = check_choice(
            "attentional_activation", attentional_activation, ATTENTIONAL_ACTIVATIONS)
        self.tie_embeddings = bool(tie_embeddings)

        if shared_embedding is None:
            self.embedding = keras.layers.Embedding(
                vocabulary_size, embedding_dim, mask_zero=True, name="embedding")
        elif (shared_embedding.input_dim, shared_embedding.output_dim) != (
                vocabulary_size, embedding_dim):
            raise ValueError(
                "`shared_embedding` must be a vocabulary_size x embedding_dim "
                f"({vocabulary_size} x {embedding_dim}) Embedding. Received: "
                f"{shared_embedding.input_dim} x {shared_embedding.output_dim}")
        else:
            self.embedding = shared_embedding
        self.rnn_layers = [
            make_rnn(cell_type, units, name=f"{cell_type}_{i}") for i in range(num_layers)
        ]
        self.attention = make_attention(
            attention, self.attention_units, attention_depth, attention_scale,
            local=local_attention, window=self.attention_window)
        self.attention_name = (
            attention if isinstance(attention, str)
            else keras.saving.serialize_keras_object(self.attention)
        )
        # h̃ has embedding_dim features when tied, so W_o can be the embedding.
        self.attentional_dim = embedding_dim if tie_embeddings else units
        self.attentional_dense = keras.layers.Dense(
            self.attentional_dim, activation=self.attentional_activation,
            use_bias=False, name="attentional")
        self.dropout_layer = keras.layers.Dropout(self.dropout, name="dropout")
        if not tie_embeddings:
            self.projection = keras.layers.Dense(vocabulary_size, name="projection")

    # ------------------------------------------------------------------ build
    def build(self, decoder_input_ids_shape, memory_shape, initial_state_shape=None):
        memory_dim = memory_shape[-1]
        if memory_dim is None:
            raise ValueError(
                f"{self.name}: the feature size of `memory` must be known. Received: "
                f"memory.shape={tuple(memory_shape)}")
        if not self.embedding.built:  # a shared embedding may be built already
            self.embedding.build((None, None))
        rnn_input = self.embedding_dim + (self.attentional_dim if self.input_feeding else 0)
        for layer in self.rnn_layers:
            layer.build((None, None, rnn_input))
            rnn_input = self.units
        self.attention.build((None, None, self.units), (None, None, memory_dim))
        deep = self.embedding_dim if self.deep_output else 0
        self.attentional_dense.build((None, None, memory_dim + self.units + deep))
        if self.tie_embeddings:
            self.output_bias = self.add_weight(
                name="output_bias", shape=(self.vocabulary_size,), initializer="zeros")
        else:
            self.projection.build((None, None, self.attentional_dim))

    def _ensure_built(self, memory):
        if not self.built:
            self.build((None, None), tuple(memory.shape))

    # ------------------------------------------------------------------ pieces
    def output_projection(self):
        """The output projection's weights, for a loss that projects them itself.

        Returns:
            `(kernel, bias, transposed)`: the float32 kernel, `(A, vocabulary_size)`,
            or the tied embedding table `(vocabulary_size, A)` with `transposed`
            True; the float32 bias `(vocabulary_size,)`. `project` computes
            `attentional @ kernel + bias` (`kernel` transposed when `transposed`).
        """
        if self.tie_embeddings:
            return (tf.convert_to_tensor(self.embedding.embeddings),
                    tf.convert_to_tensor(self.output_bias), True)
        return (tf.convert_to_tensor(self.projection.kernel),
                tf.convert_to_tensor(self.projection.bias), False)

    def project(self, attentional):
        """Logits float32 `(..., vocabulary_size)` of attentional vectors `(..., A)`."""
        if self.tie_embeddings:
            kernel = ops.cast(self.embedding.embeddings, attentional.dtype)
            logits = ops.matmul(attentional, ops.transpose(kernel))
            logits = logits + ops.cast(self.output_bias, logits.dtype)
        else:
            logits = self.projection(attentional)
        return ops.cast(logits, "float32")

    def embed(self, token_ids):
        """Embeds int token ids `(...)` into `(..., embedding_dim)` (no Keras mask)."""
        table = ops.cast(self.embedding.embeddings, self.compute_dtype)
        return ops.take(table, ops.cast(token_ids, "int32"), axis=0)

    def zero_state(self, batch_size):
        """Zero RNN states: a list over layers of lists of `(batch_size, units)`."""
        per_layer = 2 if self.cell_type == "lstm" else 1
        zeros = tf.zeros([batch_size, self.units], self.compute_dtype)
        return [[zeros] * per_layer for _ in range(self.num_layers)]

    def _attend(self, query, memory, memory_mask, keys, positions=None):
        return self.attention(query, memory, values_mask=memory_mask, keys=keys,
                              positions=positions)

    def hidden_step(self, embedded, rnn_states, attentional, memory, keys, memory_mask,
                     training=None, positions=None):
        """One step up to the attentional vector, without the vocabulary projection.

        `step` is this plus `project`; loops that need logits only for some rows
        (scheduled sampling) call this and project those rows themselves.

        Args:
            embedded: `(batch_size, embedding_dim)` embedded input tokens.
            rnn_states: list over layers of lists of `(batch_size, units)`.
            attentional: `(batch_size, A)` previous attentional vector.
            memory, keys, memory_mask: encoder outputs, `attention.precompute(memory)`
                and the source mask.
            training: Python bool or None.
            positions: int `(batch_size,)` time index (local-m attention).

        Returns:
            `(attentional, rnn_states, attention_weights)`.
        """
        x = embedded
        if self.input_feeding:
            x = ops.concatenate([x, ops.cast(attentional, x.dtype)], axis=-1)
        x = self.dropout_layer(x, training=training)
        dropped_embedding = x[:, :self.embedding_dim]
        new_states = []
        for i, layer in enumerate(self.rnn_layers):
            x, states = layer.cell(x, list(rnn_states[i]), training=training)
            new_states.append(list(states))
            if i < self.num_layers - 1:
                x = self.dropout_layer(x, training=training)
        context, weights = self._attend(x, memory, memory_mask, keys, positions)
        attentional = self._attentional(context, x, dropped_embedding)
        return attentional, new_states, weights

    def _attentional(self, context, hidden, embedded):
        """h̃ = tanh(W_c [c; h]), or tanh(W_c [c; h; e]) with `deep_output` (without
        the tanh when `attentional_activation="linear"`)."""
        parts = [context, hidden] + ([embedded] if self.deep_output else [])
        return self.attentional_dense(ops.concatenate(parts, axis=-1))

    # ------------------------------------------------------------------ step API
    def initial_step_state(self, memory, memory_mask=None, initial_state=None):
        """The state the first `step` takes.

        Args:
            memory: `(batch_size, Ts, memory_dim)` encoder outputs.
            memory_mask: optional bool `(batch_size, Ts)`.
            initial_state: optional RNN states from the encoder bridge.

        Returns:
            A dict of batch-major tensors: `rnn` (list over layers of state lists),
            `attentional` `(batch_size, A)`, `time` int32 `(batch_size,)`,
            `source_lengths` int32 `(batch_size,)`, `memory`, `keys` (the
            source-side part of the score, computed once), `memory_mask`.
        """
        memory = tf.convert_to_tensor(memory)
        self._ensure_built(memory)
        batch_size = tf.shape(memory)[0]
        if memory_mask is None:
            memory_mask = tf.ones(tf.shape(memory)[:2], tf.bool)
        memory_mask = tf.cast(memory_mask, tf.bool)
        if initial_state is None:
            initial_state = self.zero_state(batch_size)
        return {
            "rnn": [list(s) for s in initial_state],
            "attentional": tf.zeros([batch_size, self.attentional_dim], self.compute_dtype),
            "time": tf.zeros([batch_size], tf.int32),
            "source_lengths": tf.reduce_sum(tf.cast(memory_mask, tf.int32), axis=1),
            "memory": memory,
            "keys": self.attention.precompute(memory),
            "memory_mask": memory_mask,
        }

    def step(self, token_ids, state):
        """One decoding step.

        Args:
            token_ids: int `(batch_size,)`, the previous output tokens.
            state: the dict of `initial_step_state` (or of the previous step).

        Returns:
            `(logits, state, attention)`: float32 logits `(batch_size,
            vocabulary_size)`, the next state, and the weights `(batch_size, Ts)`.
        """
        embedded = self.embed(token_ids)
        attentional, rnn_states, weights = self.hidden_step(
            embedded, state["rnn"], state["attentional"], state["memory"],
            state["keys"], state["memory_mask"], training=False, positions=state["time"])
        new_state = dict(state)
        new_state.update(rnn=rnn_states, attentional=attentional, time=state["time"] + 1)
        return self.project(attentional), new_state, tf.cast(weights, tf.float32)

    # Entries of the step state that are the same for every hypothesis of a source
    # (the encoder side): reordering beams never needs to move them.
    SOURCE_STATE_KEYS = ("memory", "keys", "memory_mask", "source_lengths")

    def reorder_state(self, state, rows):
        """The step state with its hypotheses reordered (beam search).

        Args:
            state: a state dict of `initial_step_state` / `step`, batch-major.
            rows: int `(batch_size,)` row of the old state each new row copies.
                Rows only move between hypotheses of the same source.

        Returns:
            The state dict with the decoder-side entries (`rnn`, `attentional`,
            `time`) gathered by `rows`; the source-side entries
            (`SOURCE_STATE_KEYS`) are identical on the hypotheses of a source and
            are returned as they are.
        """
        return {key: (value if key in self.SOURCE_STATE_KEYS
                      else tf.nest.map_structure(lambda x: tf.gather(x, rows), value))
                for key, value in state.items()}

    # ------------------------------------------------------------------ training paths
    def call(self, decoder_input_ids, memory, memory_mask=None, initial_state=None,
             training=None, return_attention=False, projected=True, at=None):
        if at is not None and return_attention:
            raise ValueError("AttentionDecoder: `at` (outputs at some positions only) "
                             "cannot be combined with return_attention=True; call it "
                             "without `at` to get the weights of every position.")
        if self.input_feeding:
            if at is None:
                return self.run_loop(decoder_input_ids, memory, memory_mask,
                                     initial_state, training=training,
                                     return_attention=return_attention,
                                     projected=projected)
            attentional = tf.gather_nd(self.run_loop(
                decoder_input_ids, memory, memory_mask, initial_state,
                training=training, projected=False), at)
            return self.project(attentional) if projected else attentional
        ids = ops.cast(decoder_input_ids, "int32")
        if initial_state is None:
            initial_state = self.zero_state(ops.shape(ids)[0])
        target_mask = ops.not_equal(ids, PAD_ID)
        x = embedded = self.dropout_layer(self.embedding(ids), training=training)
        for i, layer in enumerate(self.rnn_layers):
            x, *_ = layer(x, initial_state=list(initial_state[i]), mask=target_mask,
                          training=training)
            if i < self.num_layers - 1:
                x = self.dropout_layer(x, training=training)
        keys = self.attention.precompute(memory)
        context, weights = self._attend(x, memory, memory_mask, keys)
        if at is not None:
            context, x, embedded = (tf.gather_nd(part, at) for part in (context, x, embedded))
        attentional = self._attentional(context, x, embedded)
        outputs = self._outputs(attentional, training, projected)
        return (outputs, weights) if return_attention else outputs

    def _outputs(self, attentional, training, projected):
        """The logits of the (dropped-out) attentional vectors, or those vectors."""
        attentional = self.dropout_layer(attentional, training=training)
        return self.project(attentional) if projected else attentional

    def run_loop(self, decoder_input_ids, memory, memory_mask=None, initial_state=None,
                 training=None, next_tokens=None, return_attention=False,
                 projected=True):
        """Step-by-step decoder over a target sequence (input feeding, scheduled sampling).

        Args:
            decoder_input_ids: int `(batch_size, T)`, `[START] y_1 … y_{T-1}`.
            memory, memory_mask, initial_state, training: as in `call`.
            next_tokens: optional `(t, attentional) -> int (batch_size,)`: the
                tokens fed at step t+1, given step t's attentional vectors
                `(batch_size, A)` (`keras_seq2seq.models.scheduled_sampling` mixes
                ground truth and predictions this way). None feeds the ground truth
                `decoder_input_ids[:, t + 1]` (teacher forcing, no per-step
                projection). Step 0 is always fed `decoder_input_ids[:, 0]`.
            return_attention: also return the weights `(batch_size, T, Ts)`.
            projected: False returns the attentional vectors `(batch_size, T, A)`
                (after dropout) instead of the logits (see `call`).

        Returns:
            float32 logits `(batch_size, T, vocabulary_size)`, projected once after
            the loop (and the attention weights when asked).
        """
        ids = tf.cast(decoder_input_ids, tf.int32)
        memory = tf.convert_to_tensor(memory)
        self._ensure_built(memory)
        batch_size, length = tf.shape(ids)[0], tf.shape(ids)[1]
        if memory_mask is None:
            memory_mask = tf.ones(tf.shape(memory)[:2], tf.bool)
        memory_mask = tf.cast(memory_mask, tf.bool)
        if initial_state is None:
            initial_state = self.zero_state(batch_size)
        keys = self.attention.precompute(memory)
        if next_tokens is None:
            embedded_time_major = tf.transpose(self.embed(ids), [1, 0, 2])

        def body(t, rnn_states, attentional, tokens, outputs_ta, weights_ta):
            embedded = (embedded_time_major[t] if next_tokens is None
                        else self.embed(tokens))
            attentional, rnn_states, weights = self.hidden_step(
                embedded, rnn_states, attentional, memory, keys, memory_mask,
                training=training, positions=tf.fill([batch_size], t))
            if next_tokens is not None:
                tokens = next_tokens(t, attentional)
            outputs_ta = outputs_ta.write(t, attentional)
            weights_ta = weights_ta.write(t, tf.cast(weights, tf.float32))
            return t + 1, rnn_states, attentional, tokens, outputs_ta, weights_ta

        loop_vars = (
            tf.constant(0),
            [list(s) for s in initial_state],
            tf.zeros([batch_size, self.attentional_dim], self.compute_dtype),
            ids[:, 0] if next_tokens is not None else tf.zeros([batch_size], tf.int32),
            tf.TensorArray(self.compute_dtype, size=length),
            tf.TensorArray(tf.float32, size=length),
        )
        _, _, _, _, outputs_ta, weights_ta = tf.while_loop(
            lambda t, *_: t < length, body, loop_vars, maximum_iterations=length)
        attentional = tf.transpose(outputs_ta.stack(), [1, 0, 2])
        outputs = self._outputs(attentional, training, projected)
        if return_attention:
            return outputs, tf.transpose(weights_ta.stack(), [1, 0, 2])
        return outputs

    # ------------------------------------------------------------------ config
    def get_config(self):
        return {**super().get_config(),
                **constructor_config(self, exclude=("start_id", "shared_embedding"),
                                     attention=self.attention_name)}
