"""Training input for the tokenizer builders: sentences from lists, datasets, files.

Python-side helpers (eager, not graph ops): they turn whatever `from_texts` / `train`
is given into `str` sentences, and count or normalise them in chunks.
"""

import collections
import json
import os

import numpy as np
import tensorflow as tf

from keras_seq2seq.text import corpora

_CHUNK_SIZE = 2048


def as_str(value):
    """`str`, `bytes` or `np.bytes_` -> `str` (UTF-8); anything else is a TypeError."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.bytes_):
        return bytes(value).decode("utf-8")
    if isinstance(value, str):
        return value
    raise TypeError(f"Expected a string, got {type(value).__name__}: {value!r}")


def iter_texts(texts):
    """Yields `str` sentences from a list of str, a tf.data.Dataset, or file paths.

    Args:
        texts: one of
            * a `str` or `os.PathLike`: the path of a one-sentence-a-line UTF-8 file;
            * a `tf.data.Dataset` whose elements are `tf.string` scalars or vectors;
            * a `tf.Tensor` / `np.ndarray` of strings;
            * an iterable of `str`/`bytes` sentences, or of `os.PathLike` paths
              (e.g. `pathlib.Path`) whose lines are read. Plain `str` items are always
              sentences, never paths.

    Yields:
        `str`; empty lines of files are skipped.
    """
    if isinstance(texts, (str, os.PathLike)):
        yield from corpora.iter_lines(texts)
        return
    if isinstance(texts, tf.data.Dataset):
        spec = texts.element_spec
        if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.string:
            raise TypeError(
                "A dataset of texts must have tf.string tensor elements, got "
                f"element_spec={spec}."
            )
        for element in texts.as_numpy_iterator():
            for value in np.asarray(element, dtype=object).reshape(-1):
                yield as_str(value)
        return
    if isinstance(texts, (tf.Tensor, np.ndarray)):
        values = texts.numpy() if isinstance(texts, tf.Tensor) else texts
        for value in np.asarray(values, dtype=object).reshape(-1):
            yield as_str(value)
        return
    for item in texts:
        if isinstance(item, os.PathLike):
            yield from corpora.iter_lines(item)
        else:
            yield as_str(item)


def chunks(iterable, size=_CHUNK_SIZE):
    """Yields lists of up to `size` items."""
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def count_tokens(texts, normalize, split):
    """Counts the tokens of `texts` as the tokenizer will see them.

    Args:
        texts: anything `iter_texts` takes.
        normalize: the tokenizer's `normalize` (1-D tf.string -> 1-D tf.string).
        split: 1-D normalised tf.string -> ragged tf.string tokens.

    Returns:
        `collections.Counter` of `str` tokens.

    Raises:
        ValueError: `texts` holds no sentence.
    """
    counts = collections.Counter()
    seen = 0
    for chunk in chunks(iter_texts(texts)):
        seen += len(chunk)
        tokens = split(normalize(tf.constant(chunk)))
        counts.update(tokens.flat_values.numpy().tolist())
    if not seen:
        raise ValueError("No texts to build a vocabulary from.")
    return collections.Counter({as_str(k): v for k, v in counts.items()})


def normalized_texts(texts, normalize):
    """Yields the sentences of `texts` normalised by `normalize`, as `str`."""
    for chunk in chunks(iter_texts(texts)):
        for value in normalize(tf.constant(chunk)).numpy().tolist():
            yield value.decode("utf-8")


def read_vocabulary_file(path):
    """Reads a vocabulary: a JSON list (`.json`) or one token a line."""
    with open(path, encoding="utf-8") as f:
        if os.fspath(path).endswith(".json"):
            return json.load(f)
        return [line.rstrip("\n").rstrip("\r") for line in f if line.rstrip("\r\n")]
