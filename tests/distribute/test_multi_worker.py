"""The MultiWorkerMirroredStrategy recipe: two worker processes on loopback."""

import json
import pathlib
import subprocess
import sys

import keras
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_workers_train_and_only_the_chief_writes(tmp_path):
    output = tmp_path / "run"
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "multi_worker.py"), "--workers", "2",
         "--epochs", "2", "--output", str(output)],
        capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "chief: 2 replicas" in run.stdout
    assert sorted(p.name for p in output.iterdir()) == ["history.json", "model.keras"]
    history = json.loads((output / "history.json").read_text())
    assert history["teacher_forcing_ratio"] == [0.5, 0.5]
    assert history["loss"][1] < history["loss"][0]
    import keras_seq2seq  # noqa: F401  (registers the classes)

    model = keras.models.load_model(output / "model.keras")
    assert model.teacher_forcing_granularity == "token"
