"""The attention layers inside your own Keras model (any Keras 3 backend).

    python examples/attention_in_your_model.py
    KERAS_BACKEND=jax python examples/attention_in_your_model.py   # with jax installed

A small classifier reads a sequence with a GRU and attends over it with a learned
query; `values_mask` comes from the embedding's padding mask automatically.
"""

import keras
import numpy as np

from keras_seq2seq.layers import ConcatAttention, GeneralAttention


def build(score="general"):
    tokens = keras.Input((None,), dtype="int32")
    states = keras.layers.GRU(32, return_sequences=True)(
        keras.layers.Embedding(50, 16, mask_zero=True)(tokens))
    last = keras.layers.GRU(32)(states)
    attention = GeneralAttention() if score == "general" else ConcatAttention(32, depth=2)
    context, weights = attention(last, states)          # one query per sequence
    logits = keras.layers.Dense(2)(keras.layers.Concatenate()([context, last]))
    return keras.Model(tokens, [logits, weights])


def main():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, (512, 12))
    x[:, 8:] = 0                                             # padding
    y = (x[:, 0] > 25).astype("int32")                       # depends on the first token
    model = build()
    model.compile(optimizer="adam",
                  loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True), None],
                  metrics=[["accuracy"], []])
    model.fit(x, y, epochs=5, verbose=2)
    _, weights = model.predict(x[:2], verbose=0)
    print("attention of the first sequence (padding gets 0):", np.round(weights[0], 2))
    model.save("/tmp/attention_classifier.keras")
    keras.models.load_model("/tmp/attention_classifier.keras")


if __name__ == "__main__":
    main()
