"""The README's Python snippets run, in order, so they cannot rot."""

import pathlib
import re

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


@pytest.mark.slow
def test_readme_python_snippets_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    snippets = _snippets()
    assert len(snippets) >= 4
    namespace = {}
    for snippet in snippets:
        exec(compile(snippet, str(README), "exec"), namespace)  # noqa: S102
