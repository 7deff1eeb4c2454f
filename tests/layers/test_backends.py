"""The attention layers on the JAX and PyTorch backends, in subprocesses; the rest of
the package says it needs TensorFlow. JAX is in the [test] extra; the torch case runs
only where a CPU build of torch is installed (not in CI) and skips otherwise."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_seq2seq.layers import ConcatAttention, DotAttention, GeneralAttention

BACKEND_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import keras
    import keras_seq2seq
    assert keras.backend.backend() == os.environ["KERAS_BACKEND"]
    data = np.load(sys.argv[1])
    model = keras.models.load_model(sys.argv[2])
    outputs = model.predict([data["q"], data["v"]], verbose=0)
    np.savez(sys.argv[3], *outputs)
    try:
        import keras_seq2seq.models
        message = None
    except ImportError as error:
        message = str(error)
    print(json.dumps({"public": sorted(n for n in dir(keras_seq2seq) if not n.startswith("_")),
                      "error": message}))
""")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_layers_run_under_jax_and_torch_and_load_a_tensorflow_keras_file(tmp_path,
                                                                        backend):
    if importlib.util.find_spec(backend) is None:   # not imported here: no torch+TF mix
        pytest.skip(f"{backend} is not installed: jax comes with the [test] extra; torch "
                    "is installed by hand (a CPU build), since its default wheels pull "
                    "CUDA libraries of several GB")
    rng = np.random.default_rng(0)
    q = rng.normal(size=(2, 3, 4)).astype("float32")
    v = rng.normal(size=(2, 5, 4)).astype("float32")
    q_in, v_in = keras.Input((None, 4)), keras.Input((None, 4))
    outputs = []
    for layer in (DotAttention(scale=True), GeneralAttention(), ConcatAttention(6, depth=2)):
        outputs.extend(layer(q_in, v_in))
    model = keras.Model([q_in, v_in], outputs)
    expected = model.predict([q, v], verbose=0)
    # The dot score's weights against numpy, so both backends meet a reference.
    scores = q @ v.transpose(0, 2, 1) / 2.0
    ref = np.exp(scores - scores.max(-1, keepdims=True))
    np.testing.assert_allclose(expected[1], ref / ref.sum(-1, keepdims=True), atol=1e-5)

    np.savez(tmp_path / "data.npz", q=q, v=v)
    model.save(tmp_path / "attention.keras")
    env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu",
           "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run(
        [sys.executable, "-c", BACKEND_SCRIPT, str(tmp_path / "data.npz"),
         str(tmp_path / "attention.keras"), str(tmp_path / "out.npz")],
        env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    # The layers and the pure-Python modules they use; nothing TensorFlow-only.
    assert report["public"] == ["checks", "constants", "layers"]
    assert "needs the TensorFlow backend" in report["error"]
    assert f"KERAS_BACKEND='{backend}'" in report["error"]
    got = np.load(tmp_path / "out.npz")
    for i, want in enumerate(expected):
        np.testing.assert_allclose(got[f"arr_{i}"], want, atol=1e-5)
