"""Toy sequence tasks: copy, reverse and sort a string of characters.

Sources are strings of characters written without separators (``"k3az"``), drawn
from an alphabet; the target is the same string copied (``"k3az"``), reversed
(``"za3k"``) or sorted by Unicode code point (``"3akz"``, i.e. ``"".join(sorted(s))``:
digits sort before lowercase letters). Tokenise them character by character.

Lengths are uniform in ``[min_length, max_length]`` and characters uniform over the
alphabet, drawn from `random.Random(seed)` (no global random state).

This module is pure Python (no TensorFlow).
"""

import random

__all__ = ["DEFAULT_ALPHABET", "TOY_TASKS", "load_toy_task", "make_toy_task"]

DEFAULT_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
"""The default alphabet: the 26 lowercase ASCII letters and the 10 digits."""

_TARGETS = {
    "copy": lambda s: s,
    "reverse": lambda s: s[::-1],
    "sort": lambda s: "".join(sorted(s)),
}

TOY_TASKS = tuple(_TARGETS)
"""Names of the toy tasks: ``("copy", "reverse", "sort")``."""


def _check_name(name):
    if name not in _TARGETS:
        raise ValueError(f"name must be one of {list(TOY_TASKS)}, got {name!r}.")


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}.")


def _check_shape(min_length, max_length, alphabet):
    """Validates lengths and alphabet; returns the alphabet as a string."""
    for name, value in (("min_length", min_length), ("max_length", max_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    if min_length > max_length:
        raise ValueError(
            f"min_length must be <= max_length, got min_length={min_length} and "
            f"max_length={max_length}."
        )
    if not isinstance(alphabet, str) or not alphabet:
        raise ValueError(
            f"alphabet must be a non-empty string of distinct characters, got "
            f"{alphabet!r}."
        )
    if any(char.isspace() for char in alphabet):
        raise ValueError(
            f"alphabet must not contain whitespace (sources are written without "
            f"separators), got {alphabet!r}."
        )
    if len(set(alphabet)) != len(alphabet):
        duplicates = sorted({char for char in alphabet if alphabet.count(char) > 1})
        raise ValueError(
            f"alphabet must not repeat characters, got {alphabet!r} which repeats "
            f"{duplicates!r}."
        )
    return alphabet


def _draw(rng, min_length, max_length, alphabet):
    length = rng.randint(min_length, max_length)
    return "".join(alphabet[rng.randrange(len(alphabet))] for _ in range(length))


def make_toy_task(name, n, min_length=3, max_length=12, alphabet=DEFAULT_ALPHABET,
                  seed=0):
    """Generates random pairs of a toy task.

    Sources may repeat; use `load_toy_task` for de-duplicated splits.

    Args:
        name: ``"copy"``, ``"reverse"`` or ``"sort"``.
        n: number of pairs, a non-negative `int`.
        min_length: shortest source length (>= 1).
        max_length: longest source length (>= `min_length`).
        alphabet: string of distinct, non-whitespace characters to draw from.
        seed: seed of the random generator.

    Returns:
        A tuple ``(sources, targets)`` of two lists of `n` strings, e.g. for
        ``"reverse"`` a source ``"k3az"`` has the target ``"za3k"``.

    Raises:
        ValueError: for an unknown `name` or invalid sizes, lengths or alphabet.
    """
    _check_name(name)
    _check_size("n", n)
    alphabet = _check_shape(min_length, max_length, alphabet)
    rng = random.Random(seed)
    target_of = _TARGETS[name]
    sources = [_draw(rng, min_length, max_length, alphabet) for _ in range(n)]
    return sources, [target_of(source) for source in sources]


def load_toy_task(name, train_size=20000, validation_size=1000, test_size=5000, seed=0,
                  min_length=3, max_length=12, alphabet=DEFAULT_ALPHABET):
    """Makes train/validation/test splits of a toy task with no shared source.

    Every source string is kept at most once over the whole dataset: sources are
    unique inside each split and no source appears in two splits. The test split is
    drawn first, then validation, then train, so the test split does not change when
    only `train_size` or `validation_size` changes. Note that with several lengths
    the lengths of the unique sources are no longer exactly uniform once short
    lengths run out of distinct strings.

    Args:
        name: ``"copy"``, ``"reverse"`` or ``"sort"``.
        train_size: number of training pairs.
        validation_size: number of validation pairs.
        test_size: number of test pairs.
        seed: seed of the random generator.
        min_length: shortest source length (>= 1).
        max_length: longest source length (>= `min_length`).
        alphabet: string of distinct, non-whitespace characters to draw from.

    Returns:
        A `dict` with keys ``"train"``, ``"validation"`` and ``"test"``, each a tuple
        ``(sources, targets)`` of two lists of strings.

    Raises:
        ValueError: for an unknown `name`, invalid arguments, or more pairs asked for
            than distinct sources exist.
    """
    _check_name(name)
    for arg, value in (("train_size", train_size),
                       ("validation_size", validation_size),
                       ("test_size", test_size)):
        _check_size(arg, value)
    alphabet = _check_shape(min_length, max_length, alphabet)
    total = train_size + validation_size + test_size
    capacity = sum(len(alphabet) ** length
                   for length in range(min_length, max_length + 1))
    if total > capacity:
        raise ValueError(
            f"train_size + validation_size + test_size = {total} exceeds the "
            f"{capacity} distinct sources of length {min_length}..{max_length} over "
            f"an alphabet of {len(alphabet)} characters."
        )
    rng = random.Random(seed)
    seen = set()
    sources = []
    while len(sources) < total:
        source = _draw(rng, min_length, max_length, alphabet)
        if source not in seen:
            seen.add(source)
            sources.append(source)
    target_of = _TARGETS[name]
    splits = {}
    start = 0
    for split, size in (("test", test_size), ("validation", validation_size),
                        ("train", train_size)):
        chunk = sources[start:start + size]
        splits[split] = (chunk, [target_of(source) for source in chunk])
        start += size
    return {split: splits[split] for split in ("train", "validation", "test")}
