"""Faults and bad input: NaN losses, SIGKILL mid-epoch, bytes that are not UTF-8."""

import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_seq2seq as ks
from tests.helpers import reverse_task

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_nan_loss_stops_training_with_terminate_on_nan(capsys):
    source, decoder_input, labels = reverse_task(n=128)
    model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0))
    weights = np.ones(128, "float32")
    weights[40] = np.nan
    history = model.fit((source, decoder_input), labels, sample_weight=weights,
                        batch_size=32, epochs=3, shuffle=False, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN()])
    assert int(model.optimizer.iterations) == 2   # stopped at the batch with NaN
    assert "Invalid loss, terminating training" in capsys.readouterr().out
    assert np.isnan(history.history["loss"][-1])


def test_translate_rejects_bytes_that_are_not_utf8(trained_text_model):
    with pytest.raises(ValueError, match=r"texts\[1\] is not valid UTF-8"):
        trained_text_model.translate(["abc", b"\xff\xfeab"])
    assert trained_text_model.translate([b"abc"]) == ["cba"]
    with pytest.raises(ValueError, match=r"texts\[0\] must be a str"):
        trained_text_model.translate([3])


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    import keras
    import keras_seq2seq as ks
    from tests.helpers import reverse_task

    keras.utils.set_random_seed(3)
    source, decoder_input, labels = reverse_task(n=192)
    model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16)
    model.compile(optimizer="adam")

    class Kill(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_end(self, batch, logs=None):
            if sys.argv[2] == "kill" and self.epoch == 2 and batch == 3:
                os.kill(os.getpid(), signal.SIGKILL)

    history = model.fit((source, decoder_input), labels, batch_size=32, epochs=4,
                        shuffle=False, verbose=0,
                        callbacks=[keras.callbacks.BackupAndRestore(sys.argv[1]), Kill()])
    print("EPOCHS", len(history.epoch), "STEPS", int(model.optimizer.iterations))
""")


@pytest.mark.slow
def test_sigkill_mid_epoch_resumes_from_the_last_backup(tmp_path):
    backup = str(tmp_path / "backup")
    command = [sys.executable, "-c", KILLED_RUN, backup]
    killed = subprocess.run(command + ["kill"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert killed.returncode == -signal.SIGKILL
    assert os.path.isdir(backup)
    resumed = subprocess.run(command + ["run"], cwd=ROOT, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # Epochs 1-2 came from the backup; epochs 3-4 ran: 4 epochs x 6 steps in all.
    assert "EPOCHS 2 STEPS 24" in resumed.stdout
