"""MirroredStrategy on two logical CPU devices: same loss and gradients as one device
(a weight regulariser included)."""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import keras_seq2seq as ks
    from tests.helpers import reverse_task

    source, decoder_input, labels = reverse_task(n=16)
    labels[:8, 4:] = 0          # uneven padding: replicas hold different token counts
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16, teacher_forcing=0.5,
                           teacher_forcing_granularity="token")
        model.compile(optimizer="adam")
    # A weight penalty: every replica computes all of it, so each must add 1/N.
    model.decoder.trainable_weights[0].regularizer = keras.regularizers.L2(0.05)
    assert len(model.losses) == 1

    def loss_and_grads(src, dec, y, ratio):
        with tf.GradientTape() as tape:
            logits = model.scheduled_forward(src, dec, tf.constant(ratio), 0)
            loss = model.compute_loss(y=y, y_pred=logits)
        return loss, tape.gradient(loss, model.trainable_variables)

    for ratio in (0.0, 1.0):
        single_loss, single_grads = loss_and_grads(source, decoder_input, labels, ratio)
        dataset = tf.data.Dataset.from_tensor_slices(
            (source, decoder_input, labels)).batch(16)
        batch = next(iter(strategy.experimental_distribute_dataset(dataset)))
        losses, grads = strategy.run(loss_and_grads, args=(*batch, ratio))
        loss = strategy.reduce("SUM", losses, axis=None)
        grads = [strategy.reduce("SUM", g, axis=None) for g in grads]
        np.testing.assert_allclose(loss, single_loss, rtol=1e-5)
        for a, b in zip(grads, single_grads):
            np.testing.assert_allclose(tf.convert_to_tensor(a), tf.convert_to_tensor(b),
                                       rtol=1e-4, atol=1e-6)
    history = model.fit((source, decoder_input), labels, batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    print("OK", strategy.num_replicas_in_sync)
""")


@pytest.mark.slow
def test_mirrored_strategy_matches_one_device():
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=600, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
    assert run.returncode == 0, run.stderr[-4000:]
    assert "OK 2" in run.stdout
