"""keras-seq2seq: attention-based RNN encoder-decoder models for Keras 3.

`keras_seq2seq.layers` (the Luong attention layers) runs on every Keras backend. The
rest needs the TensorFlow backend; under another backend `import keras_seq2seq` still
gives the attention layers, and importing a TensorFlow part (`keras_seq2seq.models`,
`decoding`, `text`, `export`, ...) raises an `ImportError` that says so.
"""

__version__ = "0.1.0"

import keras as _keras

from keras_seq2seq import layers  # noqa: F401  (backend-neutral attention layers)

if _keras.backend.backend() == "tensorflow":
    from keras_seq2seq import callbacks, decoding, models, schedules, text  # noqa: F401
    from keras_seq2seq.callbacks import (  # noqa: F401
        BleuCallback,
        EpochShuffle,
        TeacherForcingSwitch,
        TimeBudget,
        TimeWarmdown,
    )
    from keras_seq2seq.models import Seq2Seq  # noqa: F401
