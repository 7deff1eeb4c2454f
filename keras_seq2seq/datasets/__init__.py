"""Synthetic sequence-to-sequence tasks made by the package (nothing is downloaded).

* ``"dates"``: human surface forms of a date -> ISO ``YYYY-MM-DD`` (`load_dates`).
* ``"copy"``, ``"reverse"``, ``"sort"``: strings of characters -> the same string
  copied, reversed or sorted (`load_toy_task`).

Every loader returns ``{"train": (sources, targets), "validation": ...,
"test": ...}`` with lists of strings, and no source string is shared between splits.
This package is pure Python (no TensorFlow).
"""

import functools

from keras_seq2seq.datasets.dates import (
    FORMATS,
    MAX_DATE,
    MIN_DATE,
    format_date,
    generate_dates,
    load_dates,
    ordinal,
)
from keras_seq2seq.datasets.toy import (
    DEFAULT_ALPHABET,
    TOY_TASKS,
    load_toy_task,
    make_toy_task,
)

__all__ = [
    "DEFAULT_ALPHABET",
    "FORMATS",
    "MAX_DATE",
    "MIN_DATE",
    "TASKS",
    "TOY_TASKS",
    "format_date",
    "generate_dates",
    "load_dates",
    "load_task",
    "load_toy_task",
    "make_toy_task",
    "ordinal",
]

TASKS = {
    "dates": load_dates,
    **{name: functools.partial(load_toy_task, name) for name in TOY_TASKS},
}
"""Task name -> loader taking ``(train_size, validation_size, test_size, seed, ...)``."""


def load_task(name, **kwargs):
    """Loads the splits of a task by name.

    Args:
        name: a key of `TASKS`: ``"dates"``, ``"copy"``, ``"reverse"`` or ``"sort"``.
        **kwargs: passed to the loader (`load_dates` or `load_toy_task`), e.g.
            ``train_size``, ``validation_size``, ``test_size``, ``seed``.

    Returns:
        A `dict` with keys ``"train"``, ``"validation"`` and ``"test"``, each a tuple
        ``(sources, targets)`` of two lists of strings.

    Raises:
        ValueError: for an unknown `name` (or invalid arguments of the loader).
    """
    if name not in TASKS:
        raise ValueError(f"name must be one of {sorted(TASKS)}, got {name!r}.")
    return TASKS[name](**kwargs)
