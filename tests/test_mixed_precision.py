"""Mixed precision: bfloat16 trains like float32; float16 uses loss scaling correctly."""

import keras
import numpy as np
import pytest

import keras_seq2seq as ks
from tests.conftest import reverse_task


@pytest.fixture
def policy():
    def set_policy(name):
        keras.mixed_precision.set_global_policy(name)

    yield set_policy
    keras.mixed_precision.set_global_policy("float32")


def _train_and_score(policy_name, set_policy):
    set_policy(policy_name)
    keras.utils.set_random_seed(0)
    source, decoder_input, labels = reverse_task(n=2000)
    model = ks.Seq2Seq(12, 12, embedding_dim=16, units=64, cell_type="gru",
                       input_feeding=True, teacher_forcing=0.5,
                       teacher_forcing_granularity="token")
    model.compile(optimizer=keras.optimizers.Adam(5e-3))
    model.fit((source, decoder_input), labels, batch_size=64, epochs=4, verbose=0)
    test_source, _, test_labels = reverse_task(n=200, seed=9)
    result = model.generate(test_source, max_length=7)
    return model, (result.ids.numpy() == test_labels).all(1).mean(), result


@pytest.mark.slow
def test_mixed_bfloat16_trains_like_float32(policy):
    _, exact32, _ = _train_and_score("float32", policy)
    model, exact16, result = _train_and_score("mixed_bfloat16", policy)
    assert "bfloat16" in model.decoder.compute_dtype
    assert exact32 >= 0.95
    assert exact16 >= exact32 - 0.03
    # Attention masks stay exact: padded source positions get weight 0.
    source = np.array([[4, 5, 6, 0, 0]], "int32")
    weights = model.generate(source, max_length=4).attention.numpy()
    assert (weights[0, :, 3:] == 0).all()


@pytest.mark.slow
def test_mixed_float16_uses_loss_scaling(policy):
    model, exact, _ = _train_and_score("mixed_float16", policy)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert exact >= 0.9
