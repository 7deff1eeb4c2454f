"""The recurrent layers the encoder and the decoder are made of."""

import keras

from keras_seq2seq.checks import check_choice, check_positive_int, check_rate

CELL_TYPES = ("lstm", "gru")

__all__ = ["CELL_TYPES", "make_rnn", "set_rnn_settings"]


def set_rnn_settings(layer, vocabulary_size, embedding_dim, units, num_layers,
                     cell_type, dropout):
    """Checks the settings the encoder and the decoder share and sets them on `layer`.

    Args:
        layer: the encoder or decoder layer (gets attributes of the same names).
        vocabulary_size, embedding_dim, units, num_layers: positive ints.
        cell_type: one of `CELL_TYPES`.
        dropout: a rate in [0, 1).

    Raises:
        ValueError: naming the first bad argument.
    """
    for name, value in (("vocabulary_size", vocabulary_size),
                        ("embedding_dim", embedding_dim), ("units", units),
                        ("num_layers", num_layers)):
        setattr(layer, name, check_positive_int(name, value))
    layer.cell_type = check_choice("cell_type", cell_type, CELL_TYPES)
    layer.dropout = check_rate("dropout", dropout)


def make_rnn(cell_type, units, name, go_backwards=False):
    """A `return_sequences`/`return_state` LSTM or GRU layer.

    Args:
        cell_type: "lstm" or "gru".
        units: the RNN size.
        name: layer name.
        go_backwards: process the sequence backwards (a bidirectional encoder's
            backward half).

    Returns:
        A `keras.layers.LSTM` or `keras.layers.GRU`, whose call returns the
        sequence `(batch_size, T, units)` and the final states.
    """
    layer_class = keras.layers.LSTM if cell_type == "lstm" else keras.layers.GRU
    return layer_class(units, return_sequences=True, return_state=True,
                       go_backwards=go_backwards, name=name)
