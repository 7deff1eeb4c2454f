"""The built-in demo end to end on tiny settings."""

import json

import pytest

from keras_seq2seq.demo import run_demo
from keras_seq2seq.schedules import inverse_sigmoid_k


def test_inverse_sigmoid_k_reaches_the_final_ratio():
    k = inverse_sigmoid_k(1000, final_ratio=0.1)
    import math
    assert abs(k / (k + math.exp(1000 / k)) - 0.1) < 1e-3


@pytest.mark.slow
def test_demo_trains_reports_and_writes_files(tmp_path, capsys):
    results = run_demo(str(tmp_path), epochs=1, train_size=600, test_size=100,
                       batch_size=64, verbose=0)
    out = capsys.readouterr().out
    assert "Held-out test (100 dates, greedy, free running): exact match" in out
    assert "Attention of 'Friday, March 3rd 2023'" in out
    assert (tmp_path / "attention.png").stat().st_size > 10_000
    assert (tmp_path / "dates.keras").exists()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0.0 <= metrics["exact_match"] <= 1.0
    ratios = metrics["history"]["teacher_forcing_ratio"]
    assert len(ratios) == 1 and 0.0 < ratios[0] < 1.0
