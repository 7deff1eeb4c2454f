"""The Keras (and tf.distribute) private names the package relies on, in one place.

Each is used only where Keras offers no public way; checked on Keras 3.15.1 and
TensorFlow 2.21. When Keras changes one of these, this list says where to look.

Used by `keras_seq2seq.models.seq2seq.Seq2Seq` (a custom `train_step` must do what
Keras's own does, with Keras's own objects):

* `Model._compile_loss`, `Model._compile_metrics`: what `compile` was given
  (`compute_loss` / `compute_metrics` hand over to them when set);
* `Model._compute_loss`: the wrapper around `compute_loss` that Keras's own
  `train_step` / `test_step` call (it resolves the loss signature);
* `Model._loss_tracker`: the `Mean` metric behind the logged `loss`;
* `Model._maybe_symbolic_build` and `Model._distribute_strategy`: overridden so that
  a multi-worker strategy does not reduce int32 token ids while building;
* `strategy.extended._in_multi_worker_mode()`: see `for_multi_worker`;
* `Model._resolve_auto_jit_compile` is *not* overridden: `Seq2Seq.compile` resolves
  `jit_compile="auto"` before Keras sees it.

Defined here:

* `sublayers(layer)`: `Layer._flatten_layers`, every nested layer (the export turns
  cuDNN off on each RNN layer while it traces).
"""

import tensorflow as tf

__all__ = ["for_multi_worker", "sublayers", "unscale_for_distribution"]


def sublayers(layer):
    """Every layer nested in `layer` (recursively), `layer` itself excluded."""
    return list(layer._flatten_layers(include_self=False))


def for_multi_worker(strategy, logs):
    """Logs as shape-(1,) tensors under a multi-worker strategy.

    Keras 3 reduces per-replica logs of multi-worker strategies with
    `strategy.reduce("MEAN", value, axis=0)`, which fails on scalars; a 1-vector
    reduces to the mean over workers (and History/the progress bar read it as a
    number).

    Args:
        strategy: the model's `tf.distribute` strategy.
        logs: dict of scalar tensors.

    Returns:
        `logs`, or the same values reshaped to `(1,)` float32 under multi-worker.
    """
    extended = getattr(strategy, "extended", None)
    if extended is None or not getattr(extended, "_in_multi_worker_mode",
                                       lambda: False)():
        return logs
    return {k: tf.reshape(tf.cast(v, tf.float32), [1]) for k, v in logs.items()}


def unscale_for_distribution(loss):
    """`loss` times the replicas in sync (what Keras logs of a per-replica loss)."""
    replica = tf.distribute.get_replica_context()
    if replica is not None and replica.num_replicas_in_sync > 1:
        return loss * replica.num_replicas_in_sync
    return loss
