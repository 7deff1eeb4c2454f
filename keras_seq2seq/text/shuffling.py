"""Epoch-keyed shuffling of `make_dataset` datasets: the order of epoch `e` is the same
in every process, so a resumed run sees the orders an uninterrupted one sees."""

from keras_seq2seq._backend import require_tensorflow

require_tensorflow(__name__)

import tensorflow as tf  # noqa: E402

__all__ = ["SHUFFLE_EPOCH_ATTRIBUTE", "set_shuffle_epoch", "shuffle_epoch_variable",
           "shuffled_pairs"]

# The attribute of a `make_dataset` dataset that holds its pass counter.
SHUFFLE_EPOCH_ATTRIBUTE = "_keras_seq2seq_shuffle_epoch"


def shuffled_pairs(source_ids, target_ids, seed):
    """Pairs in an order keyed on `(seed, pass number)`, and the pass counter.

    Each pass over the returned dataset (each new iterator) draws the next pass
    number from a `tf.Variable` counter (`assign_add`, so concurrent iterators get
    distinct numbers) and visits the pairs in the permutation
    `tf.random.experimental.stateless_shuffle(range(n), seed=(seed, pass))`: the
    order of pass `e` is the same in every process. `set_shuffle_epoch` (or the
    `EpochShuffle` callback, which `Seq2Seq.fit` adds by itself) sets the counter
    to Keras's epoch number, so a run resumed at epoch `e` sees the orders an
    uninterrupted run sees.

    Args:
        source_ids: `tf.RaggedTensor` `(n, None)` int32.
        target_ids: `tf.RaggedTensor` `(n, None)` int32.
        seed: `int`.

    Returns:
        `(dataset of (source, target) 1-D int32 pairs, counter variable)`; the
        counter holds the number of the last pass started (-1 before the first).
    """
    with tf.init_scope(), tf.device("/cpu:0"):
        counter = tf.Variable(-1, dtype=tf.int64, trainable=False,
                              name="shuffle_epoch")
    count = int(source_ids.nrows())
    key = tf.constant(int(seed) % (2**63), tf.int64)

    def one_pass(_):
        epoch = counter.assign_add(1)
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([key, epoch]))
        return tf.data.Dataset.from_tensor_slices(
            (tf.gather(source_ids, order), tf.gather(target_ids, order)))

    dataset = tf.data.Dataset.from_tensors(0).flat_map(one_pass)
    # flat_map hides the size; Keras handles datasets of known size best.
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
    return dataset, counter


def shuffle_epoch_variable(dataset):
    """The pass counter of a shuffled `make_dataset` dataset, or `None`.

    Args:
        dataset: a `tf.data.Dataset` from `make_dataset` (datasets derived from it
            with `.take`, `.map`, ... do not carry the counter).

    Returns:
        The int64 `tf.Variable` holding the number of the last pass started, or
        `None` when `dataset` was not made by `make_dataset(shuffle=True)`.
    """
    return getattr(dataset, SHUFFLE_EPOCH_ATTRIBUTE, None)


def set_shuffle_epoch(dataset, epoch):
    """Makes the next pass over `dataset` use the order of epoch `epoch`.

    Args:
        dataset: a shuffled `make_dataset` dataset (or its counter variable).
        epoch: `int` >= 0, the epoch number (0-based, as Keras counts).

    Raises:
        ValueError: if `dataset` carries no shuffle counter or `epoch` < 0.
    """
    counter = dataset if isinstance(dataset, tf.Variable) else shuffle_epoch_variable(
        dataset)
    if counter is None:
        raise ValueError(
            "set_shuffle_epoch: dataset has no shuffle counter; pass the dataset "
            "returned by make_dataset(..., shuffle=True) itself, not one derived from "
            "it with .take/.map/...")
    if int(epoch) < 0:
        raise ValueError(f"set_shuffle_epoch: epoch must be >= 0, got {epoch!r}.")
    counter.assign(int(epoch) - 1)
