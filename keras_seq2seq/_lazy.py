"""What makes `import keras_seq2seq` lazy (PEP 562), and registration complete.

Pure Python: importing this module imports neither Keras nor TensorFlow.

* `EXPORTS` (name -> defining submodule) and `SUBMODULES`: the package's public names
  (`PUBLIC`, its `__all__`);
* `load_all()` imports what `import keras_seq2seq` imported before it was lazy
  (`layers`, and on the TensorFlow backend `callbacks`, `decoding`, `models`,
  `schedules`, `text`), which registers every Keras class of the package
  (`keras_seq2seq>Seq2Seq`, the layers, schedules and tokenizers) for
  `keras.saving.load_model`, and sets the re-exported names on the package;
* `install_import_hook()`: until `load_all()` has run, the end of each outermost
  import of a `keras_seq2seq.*` submodule (e.g. `import keras_seq2seq.models`,
  `from keras_seq2seq.text import ...`) calls `load_all()` if Keras is imported by
  then. Imports of the pure-Python submodules (`cli`, `constants`, `checks`,
  `datasets`, ...) before any Keras import stay Keras-free.
"""

import importlib
import sys
import threading

PACKAGE = "keras_seq2seq"

EXPORTS = {
    "BleuCallback": "callbacks",
    "EpochShuffle": "callbacks",
    "TeacherForcingSwitch": "callbacks",
    "TimeBudget": "callbacks",
    "TimeWarmdown": "callbacks",
    "Ensemble": "models",
    "Seq2Seq": "models",
    "WeightAverage": "averaging",
}
"""The names `keras_seq2seq` re-exports, and the submodule that defines each."""

SUBMODULES = ("averaging", "callbacks", "checks", "config", "constants", "datasets", "decoding",
              "evaluation", "export", "layers", "models", "plotting", "saving",
              "schedules", "text", "training")
"""The public submodules `dir(keras_seq2seq)` lists; any other submodule (`cli`,
`demo`, ...) loads on attribute access too."""

PUBLIC = sorted([*EXPORTS, *SUBMODULES])
"""`keras_seq2seq.__all__`."""

NEUTRAL = ("layers",)
"""What `load_all()` imports on every Keras backend."""

TENSORFLOW_ONLY = ("callbacks", "decoding", "models", "schedules", "text", "averaging")
"""What it imports on the TensorFlow backend: with `NEUTRAL`, every module that defines
a registered class, in the order the eager `__init__` always imported them."""

_done = False
_local = threading.local()  # .depth: nested keras_seq2seq imports; .loading: in load_all


def loaded():
    """Whether `load_all()` has completed."""
    return _done


def load_all():
    """Imports (and so registers) everything; sets the re-exported names.

    Idempotent and cheap once done. Under a non-TensorFlow backend it imports the
    attention layers only, as `import keras_seq2seq` always did.
    """
    global _done
    if _done or getattr(_local, "loading", False):
        return
    _local.loading = True
    try:
        import keras

        package = sys.modules[PACKAGE]
        names = NEUTRAL
        if keras.backend.backend() == "tensorflow":
            names = NEUTRAL + TENSORFLOW_ONLY
        for name in names:
            importlib.import_module(f"{PACKAGE}.{name}")
        if keras.backend.backend() == "tensorflow":
            for name, module in EXPORTS.items():
                setattr(package, name, getattr(sys.modules[f"{PACKAGE}.{module}"], name))
        _done = True
    finally:
        _local.loading = False
    _uninstall_import_hook()


# --------------------------------------------------------------------- import hook


class _Loader:
    """Runs the real loader, then `load_all()` at the end of the outermost import."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # get_source, is_package, get_resource_reader, ...
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # Leave no trace: the module keeps its real loader.
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            self.loader.exec_module(module)
        finally:
            _local.depth -= 1
        if _local.depth == 0 and "keras" in sys.modules:
            load_all()


class _Finder:
    """A `sys.meta_path` finder (a plain class: `importlib.abc` costs 6 ms): finds
    `keras_seq2seq.*` submodules as the other finders do, and wraps their loader."""

    def find_spec(self, fullname, path, target=None):
        if _done or not fullname.startswith(PACKAGE + "."):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


_finder = _Finder()


def install_import_hook():
    """Puts the finder first on `sys.meta_path` (once); `load_all()` removes it."""
    if not _done and _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def _uninstall_import_hook():
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
