"""The README's Python snippets run, in order, and give what the README says they do."""

import math
import os
import pathlib
import re
import time

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _snippets():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    commands = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert any("pip install -e" in c and "python -m pytest tests" in c for c in commands)
    assert any("pip install -e ." in c and ("dates.py" in c or "keras-seq2seq demo" in c)
               for c in commands)
    ci = (README.parent / ".ci" / "run").read_text()
    assert "python -m pytest tests" in ci


def _check_attention_layers(ns, out, started):
    """Masked source positions get weight 0, each row sums to 1, and one decoder step
    with precomputed keys gives the first row of the whole-sequence call."""
    weights, mask = np.asarray(ns["weights"]), ns["mask"]
    assert (weights[~np.broadcast_to(mask[:, None, :], weights.shape)] == 0).all()
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert tuple(ns["step_context"].shape) == (2, 8)
    np.testing.assert_allclose(ns["step_weights"], weights[:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ns["step_context"], np.asarray(ns["context"])[:, 0],
                               rtol=1e-5, atol=1e-6)


def _check_fit(ns, out, started):
    """The printed ratio is InverseSigmoidDecay(k=20) at each epoch's last step
    (256 / 64 = 4 steps an epoch: steps 3 and 7), and both decoders give ids."""
    ratios = ns["history"].history["teacher_forcing_ratio"]
    np.testing.assert_allclose(ratios, [20 / (20 + math.exp(step / 20)) for step in (3, 7)],
                               rtol=1e-6)
    assert str(ratios) in out
    assert np.isfinite(ns["history"].history["loss"]).all()
    assert int(ns["model"].optimizer.iterations) == 8
    result, beams = ns["result"], ns["beams"]
    assert result.ids.shape[0] == 2 and beams.ids.shape[0] == 2
    lengths = np.asarray(result.lengths)
    # An untrained model may end at once (length 0): only the bounds are certain.
    assert ((lengths >= 0) & (lengths <= result.ids.shape[1])).all()


def _check_text(ns, out, started):
    """translate maps strings to strings, translate_full agrees with it, its attention
    is (target tokens, source tokens), and the batched call covers every sentence."""
    model, found = ns["model"], ns["found"]
    translation = model.translate(["3 March 2023"])
    assert isinstance(translation, list) and len(translation) == 1
    assert isinstance(translation[0], str)
    assert str(translation) in out
    assert found.text == translation[0]
    assert found.source_tokens == list("3 March 2023")
    assert tuple(found.attention.shape) == (len(found.tokens), len(found.source_tokens))
    assert math.isfinite(found.score) and found.score <= 0
    assert len(ns["outputs"]) == 300 and all(isinstance(t, str) for t in ns["outputs"])
    assert "300/300" in out


def _check_plots_and_scores(ns, out, started):
    """The text table prints percentages, the plot is written, identical texts score
    exact match 1 and chrF 100."""
    lines = [line.split() for line in out.splitlines()]
    assert ["a", "b", "c"] in lines
    assert ["x", "90", "10", "0"] in lines and ["y", "20", "70", "10"] in lines
    assert os.path.getsize("/tmp/att.png") > 0
    assert os.path.getmtime("/tmp/att.png") >= started
    scores = ns["evaluation"].evaluate_translations(["a man rides"], ["a man rides"])
    assert str(scores) in out
    assert scores["exact_match"] == 1.0 and scores["chrf"] == 100.0


def _check_saving_and_serving(ns, out, started):
    """The SavedModel translates as the reloaded `.keras` model does."""
    expected = ns["model"].translate(["3 March 2023"])
    assert f"{expected}\n" in out
    assert ns["load_translator"]("/tmp/readme_export").translate(["3 March 2023"]) == expected


CHECKS = {  # a line of the snippet -> what its results must be
    "ConcatAttention(16, depth=2)": _check_attention_layers,
    "teacher_forcing=schedules.InverseSigmoidDecay(k=20)": _check_fit,
    "found = model.translate_full(": _check_text,
    "plotting.attention_table(": _check_plots_and_scores,
    "export_translator(model,": _check_saving_and_serving,
}


@pytest.mark.slow
def test_readme_python_snippets_give_what_they_say(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    snippets = _snippets()
    assert len(snippets) >= len(CHECKS)
    namespace, checked = {}, []
    for snippet in snippets:
        started = time.time() - 1
        capsys.readouterr()
        exec(compile(snippet, str(README), "exec"), namespace)  # noqa: S102
        out = capsys.readouterr().out
        for marker, check in CHECKS.items():
            if marker in snippet:
                check(namespace, out, started)
                checked.append(marker)
    assert sorted(checked) == sorted(CHECKS), "a checked README snippet changed or went"
