"""The encoder: embedding + stacked (bidirectional) LSTM/GRU + a bridge to the decoder.

The encoder and the decoder share states, not parameters: the encoder's final states
(after the bridge) are the decoder's initial states.
"""

import keras
from keras import ops

from keras_seq2seq._backend import require_tensorflow
from keras_seq2seq._serialization import constructor_config, register
from keras_seq2seq.checks import check_positive_int
from keras_seq2seq.layers.rnn import make_rnn, set_rnn_settings

require_tensorflow(__name__)


@register
class Seq2SeqEncoder(keras.layers.Layer):
    """Embedding (id 0 masked) + stacked LSTM/GRU, optionally bidirectional.

    Layer i's final states start decoder layer i. A bridge `Dense(decoder_units,
    tanh)` per state maps them to the decoder's size when the sizes differ or the
    encoder is bidirectional (forward and backward states are concatenated first);
    otherwise the states pass unchanged.

    Args:
        vocabulary_size: source vocabulary size (id 0 is padding).
        embedding_dim: source embedding size. Defaults to 128.
        units: RNN size per direction. Defaults to 256.
        num_layers: number of stacked layers (the decoder has as many). Defaults to 1.
        cell_type: "lstm" or "gru". Defaults to "lstm".
        bidirectional: run each layer both ways and concatenate. Defaults to False.
        dropout: dropout between layers and on the embeddings. Defaults to 0.
        decoder_units: the decoder's RNN size. Defaults to `units`.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        source_ids: int `(batch_size, Ts)`, padded with 0.
        training: Python bool or None.

    Returns:
        `(outputs, states)`: outputs `(batch_size, Ts, output_dim)` (output_dim is
        `2 * units` when bidirectional) and a list over layers of the decoder's
        initial states (`[h, c]` for LSTM, `[h]` for GRU), each
        `(batch_size, decoder_units)`.
    """

    def __init__(self, vocabulary_size, embedding_dim=128, units=256, num_layers=1,
                 cell_type="lstm", bidirectional=False, dropout=0.0, decoder_units=None,
                 **kwargs):
        super().__init__(**kwargs)
        set_rnn_settings(self, vocabulary_size, embedding_dim, units, num_layers,
                         cell_type, dropout)
        self.bidirectional = bool(bidirectional)
        self.decoder_units = check_positive_int(
            "decoder_units", decoder_units if decoder_units is not None else units)
        self.supports_masking = True

        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, mask_zero=True, name="embedding")
        self.rnn_layers = []
        for i in range(num_layers):
            layer = make_rnn(cell_type, units, name=f"{cell_type}_{i}")
            if bidirectional:
                layer = keras.layers.Bidirectional(layer, merge_mode="concat",
                                                   name=f"bidirectional_{i}")
            self.rnn_layers.append(layer)
        self.dropout_layer = keras.layers.Dropout(self.dropout, name="dropout")
        self.states_per_layer = 2 if cell_type == "lstm" else 1
        self.uses_bridge = bidirectional or self.decoder_units != units
        self.bridges = []
        if self.uses_bridge:
            for i in range(num_layers):
                for j in range(self.states_per_layer):
                    self.bridges.append(keras.layers.Dense(
                        self.decoder_units, activation="tanh", name=f"bridge_{i}_{j}"))

    @property
    def output_dim(self):
        """Feature size of the outputs (the attention's memory)."""
        return self.units * (2 if self.bidirectional else 1)

    def build(self, source_ids_shape):
        if not self.embedding.built:  # a shared embedding may be built already
            self.embedding.build((None, None))
        size = self.embedding_dim
        for layer in self.rnn_layers:
            layer.build((None, None, size))
            size = self.output_dim
        for bridge in self.bridges:
            bridge.build((None, self.output_dim))

    def call(self, source_ids, training=None):
        ids = ops.cast(source_ids, "int32")
        mask = ops.not_equal(ids, 0)
        x = self.dropout_layer(self.embedding(ids), training=training)
        decoder_states = []
        for i, layer in enumerate(self.rnn_layers):
            x, *states = layer(x, mask=mask, training=training)
            if self.bidirectional:
                half = len(states) // 2
                states = [ops.concatenate([f, b], axis=-1)
                          for f, b in zip(states[:half], states[half:])]
            if self.uses_bridge:
                bridges = self.bridges[i * self.states_per_layer:
                                       (i + 1) * self.states_per_layer]
                states = [bridge(s) for bridge, s in zip(bridges, states)]
            decoder_states.append(list(states))
            if i < self.num_layers - 1:
                x = self.dropout_layer(x, training=training)
        return x, decoder_states

    def compute_mask(self, source_ids, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), **constructor_config(self)}
