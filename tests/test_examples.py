"""The small example scripts run to the end."""

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow
@pytest.mark.parametrize("script, expected", [
    ("custom_schedule.py", "ratio per epoch: [1.0, 0.725, 0.325, 0.2]"),
    ("attention_in_your_model.py", "attention of the first sequence (padding gets 0)"),
    ("serve_export.py", "the fresh process (tensorflow + tensorflow_text only) gave the "
                        "model's own translations"),
])
def test_example_runs(script, expected):
    run = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert expected in run.stdout
