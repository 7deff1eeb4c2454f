"""The recurrent layers the encoder and the decoder are made of."""

import keras

CELL_TYPES = ("lstm", "gru")

__all__ = ["CELL_TYPES", "make_rnn"]


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
