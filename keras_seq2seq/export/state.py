"""The decoder state of the `encode` / `decode_step` endpoints as flat named tensors."""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

import tensorflow as tf  # noqa: E402

__all__ = ["flatten_state", "probe_state", "state_layout", "state_specs",
           "unflatten_state"]


def flatten_state(state, prefix=""):
    """The decoder state (a nest of dicts/lists) -> a flat dict of named tensors.

    Names join the keys and list indices with "_": `rnn` (a list over layers of
    lists of states) gives `rnn_0_0`, `rnn_0_1`, ...; dict keys keep the order of
    `AttentionDecoder.initial_step_state`. Generic, so that a new entry of the
    decoder's state is exported as it is.
    """
    flat = {}
    if isinstance(state, dict):
        items = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        return {prefix: state}
    for key, value in items:
        flat.update(flatten_state(value, f"{prefix}_{key}" if prefix else str(key)))
    return flat


def unflatten_state(flat, template, prefix=""):
    """Inverse of `flatten_state`, with the nest structure of `template`."""
    if isinstance(template, dict):
        return {key: unflatten_state(flat, value, f"{prefix}_{key}" if prefix else key)
                for key, value in template.items()}
    if isinstance(template, (list, tuple)):
        return [unflatten_state(flat, value, f"{prefix}_{i}" if prefix else str(i))
                for i, value in enumerate(template)]
    return flat[prefix]


def probe_state(model, source_length=1):
    """The state of a 1-example batch: the structure, names, dtypes and shapes."""
    probe = tf.ones([1, source_length], tf.int32)  # id 1 ([UNK]) is in every vocabulary
    return model.encode(probe)


def state_specs(model):
    """`{name: tf.TensorSpec}` of the flat decoder state.

    The batch dimension is unknown, and so is every dimension that follows the
    source length (found by encoding sources of 1 and 2 tokens).
    """
    one = flatten_state(probe_state(model, 1))
    two = flatten_state(probe_state(model, 2))
    specs = {}
    for name, tensor in one.items():
        shape = tf.convert_to_tensor(tensor).shape.as_list()
        other = tf.convert_to_tensor(two[name]).shape.as_list()
        shape = [None] + [a if a == b else None for a, b in zip(shape[1:], other[1:])]
        specs[name] = tf.TensorSpec(shape, tensor.dtype, name=name)
    return specs


def state_layout(model):
    """Describes the flat decoder state of the `encode` / `decode_step` endpoints.

    Args:
        model: a built `Seq2Seq`.

    Returns:
        A dict `{name: (dtype_name, shape)}` in the order of
        `AttentionDecoder.initial_step_state`, `None` for unknown dimensions (the
        batch, and the source length `Ts`).
    """
    return {name: (spec.dtype.name, tuple(spec.shape.as_list()))
            for name, spec in state_specs(model).items()}
