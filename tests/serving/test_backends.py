"""`KerasBackend`'s XLA-compiled decoding of one-sentence batches (in process)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_seq2seq.serving import KerasBackend


def _spy_on_generate(model, monkeypatch, fail_compiled=False):
    """Records each `generate` call's `jit_compile`; optionally fails those with XLA."""
    calls, generate = [], model.generate

    def spy(*args, jit_compile=False, **kwargs):
        calls.append(jit_compile)
        if jit_compile and fail_compiled:
            raise tf.errors.InvalidArgumentError(None, None, "Detected unsupported op")
        return generate(*args, jit_compile=jit_compile, **kwargs)

    monkeypatch.setattr(model, "generate", spy)
    return calls


def test_one_sentence_batches_decode_under_xla_as_the_graph(serving_models, monkeypatch):
    model, path = serving_models["model"], serving_models["keras"]
    calls = _spy_on_generate(model, monkeypatch)
    compiled = KerasBackend(model, path)  # jit_compile="auto"
    graph = KerasBackend(model, path, jit_compile=False)
    compiled.warm_up()
    assert compiled.describe()["decoding"]["jit_compile"] is True
    assert graph.describe()["decoding"]["jit_compile"] is False
    for text in ["가나다라", "사아", "가"]:
        del calls[:]
        ours, theirs = compiled.translate([text]), graph.translate([text])
        assert calls == [True, False]
        for name in ("translations", "tokens", "lengths"):
            np.testing.assert_array_equal(ours.outputs[name], theirs.outputs[name])
        for name in ("scores", "attention"):
            np.testing.assert_allclose(ours.outputs[name], theirs.outputs[name],
                                       atol=1e-5)
        assert ours.source_tokens == theirs.source_tokens
    del calls[:]
    compiled.translate(["가나", "다라"])  # several sentences: the graph
    assert calls == [False]


def test_auto_falls_back_where_xla_cannot_compile(serving_models, monkeypatch):
    model, path = serving_models["model"], serving_models["keras"]
    _spy_on_generate(model, monkeypatch, fail_compiled=True)
    backend = KerasBackend(model, path)
    with pytest.warns(UserWarning, match="XLA cannot compile .*unsupported op"):
        backend.warm_up()
    assert backend.jit_compile is False
    assert backend.translate(["가나"]).outputs["translations"][0] == model.translate("가나")
    with pytest.raises(tf.errors.InvalidArgumentError, match="unsupported op"):
        KerasBackend(model, path, jit_compile=True).warm_up()


def test_serve_notes_that_an_export_keeps_its_own_jit_compile(serving_models, monkeypatch,
                                                             capsys):
    from keras_seq2seq import serving
    from keras_seq2seq.cli import serve
    from keras_seq2seq.cli.common import Parser

    served = []
    monkeypatch.setattr(serving, "serve", lambda backend, *a, **k: served.append(backend))
    parser = Parser(prog="keras-seq2seq")
    serve.add_parser(parser.add_subparsers(dest="command", parser_class=Parser))
    for model, flag, note in ((serving_models["export"], "off", True),
                              (serving_models["export"], "auto", False),
                              (serving_models["keras"], "off", False)):
        assert serve.run(parser.parse_args(
            ["serve", "--model", model, "--jit-compile", flag])) == 0
        err = capsys.readouterr().err
        assert ("--jit-compile off does not apply to an export: it decodes as "
                "exported (jit_compile=True" in err) is note, err
    assert served[-1].jit_compile is False  # the .keras backend got --jit-compile off
