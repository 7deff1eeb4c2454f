"""A custom teacher-forcing schedule: subclass TeacherForcingSchedule, override `ratio`.

    python examples/custom_schedule.py

The schedule below holds full teacher forcing for a warm-up, then decays linearly.
It is serializable (registered, with get_config), so it is saved inside `.keras`
files and a reloaded model resumes at the ratio of its restored step.
"""

import keras
import numpy as np
import tensorflow as tf

import keras_seq2seq as ks
from keras_seq2seq import schedules


@keras.saving.register_keras_serializable(package="examples")
class WarmupThenLinear(schedules.TeacherForcingSchedule):
    """εᵢ = 1 for i < warmup, then max(minimum, 1 − (i − warmup) / decay_steps)."""

    def __init__(self, warmup=20, decay_steps=40, minimum=0.2):
        self.warmup, self.decay_steps, self.minimum = warmup, decay_steps, minimum

    def ratio(self, step):
        decayed = 1.0 - (step - self.warmup) / self.decay_steps
        return tf.where(step < self.warmup, 1.0, tf.maximum(self.minimum, decayed))

    def get_config(self):
        return {"warmup": self.warmup, "decay_steps": self.decay_steps,
                "minimum": self.minimum}


def main():
    rng = np.random.default_rng(0)
    source = rng.integers(4, 12, (1024, 6)).astype("int32")
    target = source[:, ::-1]
    decoder_input = np.concatenate([np.full((1024, 1), 2), target], 1)
    labels = np.concatenate([target, np.full((1024, 1), 3)], 1)
    model = ks.Seq2Seq(12, 12, embedding_dim=16, units=64, cell_type="gru",
                       teacher_forcing=WarmupThenLinear(),
                       teacher_forcing_granularity="token")
    model.compile(optimizer=keras.optimizers.Adam(5e-3))
    history = model.fit((source, decoder_input), labels, batch_size=64, epochs=4,
                        verbose=2)
    print("ratio per epoch:", [round(r, 3) for r in history.history["teacher_forcing_ratio"]])
    model.save("/tmp/custom_schedule.keras")
    restored = keras.models.load_model("/tmp/custom_schedule.keras")
    print("restored schedule:", restored.teacher_forcing,
          "ratio now:", float(restored.teacher_forcing_ratio()))


if __name__ == "__main__":
    main()
