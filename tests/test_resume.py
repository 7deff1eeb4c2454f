"""Resuming under the custom train_step: BackupAndRestore loses nothing at epoch ends."""

import shutil

import keras
import numpy as np
import pytest

import keras_seq2seq as ks
from tests.helpers import reverse_task


class Interrupt(keras.callbacks.Callback):
    """Raises once, inside epoch `epoch` after `batch` batches (a crash mid-epoch)."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise RuntimeError("interrupted")


def _model():
    keras.utils.set_random_seed(3)
    model = ks.Seq2Seq(12, 12, embedding_dim=8, units=16,
                       teacher_forcing=ks.schedules.LinearDecay(slope=0.02, minimum=0.2),
                       teacher_forcing_granularity="token")
    model.compile(optimizer="adam")
    return model


@pytest.mark.slow
def test_interrupted_run_resumed_with_backup_is_bit_identical(tmp_path):
    source, decoder_input, labels = reverse_task(n=192)
    fit = dict(x=(source, decoder_input), y=labels, batch_size=32, epochs=4,
               shuffle=False, verbose=0)

    reference = _model()
    reference.fit(**fit)

    backup = str(tmp_path / "backup")
    model = _model()
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(**fit, callbacks=[keras.callbacks.BackupAndRestore(backup),
                                    Interrupt(epoch=2, batch=3)])
    resumed = _model()      # a fresh process would build the model again like this
    history = resumed.fit(**fit, callbacks=[keras.callbacks.BackupAndRestore(backup)])
    assert len(history.epoch) == 2          # epochs 3 and 4 only: epochs 1-2 restored
    assert int(resumed.optimizer.iterations) == int(reference.optimizer.iterations) == 24
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    # The last logged ratio is the schedule's at the last step (23), as uninterrupted.
    np.testing.assert_allclose(history.history["teacher_forcing_ratio"][-1],
                               float(reference.teacher_forcing(23)), rtol=1e-6)


@pytest.mark.slow
def test_batch_level_backup_restarts_the_interrupted_epoch(tmp_path):
    """With save_freq=N, Keras restores the last N-batch backup but restarts the epoch
    from its first batch: the batches of that epoch seen before the backup are trained
    on twice. The optimizer step count tells exactly how many."""
    source, decoder_input, labels = reverse_task(n=192)
    fit = dict(x=(source, decoder_input), y=labels, batch_size=32, epochs=2,
               shuffle=False, verbose=0)
    backup = str(tmp_path / "backup")
    model = _model()
    with pytest.raises(RuntimeError):
        model.fit(**fit, callbacks=[keras.callbacks.BackupAndRestore(backup, save_freq=2),
                                    Interrupt(epoch=1, batch=4)])
    resumed = _model()
    resumed.fit(**fit, callbacks=[keras.callbacks.BackupAndRestore(backup, save_freq=2)])
    # 6 batches an epoch. Backup after batch 4 of epoch 2 (step 6 + 4 = 10); the
    # resumed run replays epoch 2 from its first batch: 10 + 6 steps in all, i.e.
    # the 4 batches before the backup are repeated and nothing else is lost.
    assert int(resumed.optimizer.iterations) == 16


def _text_data(seed):
    from keras_seq2seq.datasets import load_toy_task
    from keras_seq2seq.text import CharacterTokenizer, make_dataset

    splits = load_toy_task("reverse", train_size=160, validation_size=10, test_size=10,
                           min_length=3, max_length=6, alphabet="abcdefgh", seed=0)
    sources, targets = splits["train"]
    tokenizer = CharacterTokenizer.from_texts(sources)
    dataset = make_dataset(sources, targets, tokenizer, tokenizer, batch_size=32,
                           seed=seed)
    return dataset, tokenizer.vocabulary_size


def _text_model(vocabulary_size):
    # Teacher forced: the order of the batches is what is tested here (the sampling
    # schedule's resumption is test_interrupted_run_resumed_with_backup_is_bit_identical's),
    # and each of make_dataset's batch shapes traces the step anew.
    keras.utils.set_random_seed(3)
    model = ks.Seq2Seq(vocabulary_size, vocabulary_size, embedding_dim=8, units=16)
    model.compile(optimizer="adam")
    return model


@pytest.mark.slow
def test_resumed_run_on_a_shuffled_make_dataset_is_bit_identical(tmp_path):
    """make_dataset reshuffles every epoch; Seq2Seq.fit keys each epoch's order on
    (seed, epoch), so a run rebuilt from scratch (new dataset, new model, as in a new
    process) and resumed by BackupAndRestore replays the uninterrupted run exactly."""
    dataset, vocabulary_size = _text_data(seed=5)
    reference = _text_model(vocabulary_size)
    reference.fit(dataset, epochs=4, verbose=0)

    backup = str(tmp_path / "backup")
    dataset, _ = _text_data(seed=5)
    model = _text_model(vocabulary_size)
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(dataset, epochs=4, verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(backup),
                             Interrupt(epoch=2, batch=2)])
    shutil.copytree(backup, tmp_path / "backup_copy")   # for the control below
    dataset, _ = _text_data(seed=5)
    resumed = _text_model(vocabulary_size)
    history = resumed.fit(dataset, epochs=4, verbose=0,
                          callbacks=[keras.callbacks.BackupAndRestore(backup)])
    assert history.epoch == [2, 3]
    assert int(resumed.optimizer.iterations) == int(reference.optimizer.iterations) == 20
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)

    # The control: Keras's own fit (no EpochShuffle) restarts the passes at 0 in the
    # rebuilt dataset, so the resumed epochs see other orders and other weights.
    dataset, _ = _text_data(seed=5)
    unkeyed = _text_model(vocabulary_size)
    history = keras.Model.fit(
        unkeyed, dataset, epochs=4, verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "backup_copy"))])
    assert history.epoch == [2, 3]
    assert int(unkeyed.optimizer.iterations) == 20
    assert any(not np.array_equal(a, b)
               for a, b in zip(unkeyed.get_weights(), reference.get_weights()))
