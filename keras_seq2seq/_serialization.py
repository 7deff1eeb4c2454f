"""One decorator that registers every public class for `.keras` round trips, and the
config of a layer that keeps its constructor arguments as attributes."""

import inspect

import keras

PACKAGE = "keras_seq2seq"


def register(cls):
    """Registers `cls` as `keras_seq2seq>ClassName` for Keras serialization."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)


def constructor_config(obj, exclude=(), **values):
    """`{argument: getattr(obj, argument)}` over `type(obj).__init__`'s named arguments.

    Args:
        obj: an object that stores each constructor argument under its own name.
        exclude: arguments to leave out (accepted but not kept).
        **values: arguments whose config value is not the attribute (given here).

    Returns:
        A dict in the signature's order.
    """
    skipped = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    config = {}
    for name, parameter in inspect.signature(type(obj).__init__).parameters.items():
        if name == "self" or name in exclude or parameter.kind in skipped:
            continue
        config[name] = values[name] if name in values else getattr(obj, name)
    return config
