"""keras-seq2seq: attention-based RNN encoder-decoder models for Keras 3.

`keras_seq2seq.layers` (the Luong attention layers) runs on every Keras backend. The
rest needs the TensorFlow backend; under another backend `import keras_seq2seq` still
gives the attention layers, and importing a TensorFlow part (`keras_seq2seq.models`,
`decoding`, `text`, `export`, `keras_seq2seq.Seq2Seq`, ...) raises an `ImportError`
that says so.

Lazy import (PEP 562)
---------------------
`import keras_seq2seq` costs nothing when Keras is not imported yet: the submodules
(`layers`, `models`, `callbacks`, `decoding`, `schedules`, `text`, `export`, `saving`,
...) and the re-exported names (`Seq2Seq`, `BleuCallback`, `EpochShuffle`,
`TeacherForcingSwitch`, `TimeBudget`, `TimeWarmdown`) load on first access, so
`keras-seq2seq --help` never imports TensorFlow. `__version__` is always there.

Registration for `.keras` files: Keras rebuilds a `keras_seq2seq>Seq2Seq` (its layers,
schedules, tokenizers) only from classes registered by importing the modules that
define them; it does not import them from the file's "module" field. The rule:

* if `keras` or `tensorflow` is already imported when `keras_seq2seq` is (`import
  keras` or `import tensorflow as tf` first, the usual order, which has paid for
  TensorFlow already), `import keras_seq2seq` imports and registers everything
  eagerly, as it always did;
* otherwise it stays lazy, and the first access to a name that needs Keras
  (`keras_seq2seq.Seq2Seq`, `keras_seq2seq.layers`, ...) or the first import of a
  submodule that imports Keras (`import keras_seq2seq.models`, `from
  keras_seq2seq.text import ...`) registers everything;
* `keras_seq2seq.saving.load_model` always registers everything first.

So only `import keras_seq2seq` alone, then `import keras` and
`keras.saving.load_model(path)`, finds nothing registered: import Keras first, or use
`keras_seq2seq.saving.load_model`.
"""

__version__ = "0.1.0"

import importlib as _importlib
import sys as _sys

from keras_seq2seq import _lazy

__all__ = _lazy.PUBLIC  # noqa: PLE0605  (a sorted list, kept in _lazy with EXPORTS)


def __getattr__(name):
    """Loads a submodule or a re-exported name on first access (PEP 562)."""
    if name in _lazy.EXPORTS:
        module = _importlib.import_module(f"{__name__}.{_lazy.EXPORTS[name]}")
        _lazy.load_all()
        return getattr(module, name)
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = _importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    if "keras" in _sys.modules:
        _lazy.load_all()
    return module


def __dir__():
    """The loaded names, and the public ones unless Keras runs on another backend."""
    names = set(globals())
    keras = _sys.modules.get("keras")
    if keras is None or keras.backend.backend() == "tensorflow":
        names.update(__all__)
    return sorted(names)


if "keras" in _sys.modules or "tensorflow" in _sys.modules:
    _lazy.load_all()  # eager, as before: registers every Keras class now
else:
    _lazy.install_import_hook()
