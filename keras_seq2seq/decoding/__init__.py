"""Decoding strategies over a model's `step(token_ids, state)` function."""

from keras_seq2seq.decoding.greedy import DecodeResult, greedy_decode

__all__ = ["DecodeResult", "greedy_decode"]
