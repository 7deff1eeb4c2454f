"""SavedModel export of a translator: endpoints, fresh-process loading, CLI, safety.

One tiny model (embedding 8, units 16, random weights large enough to give varied
outputs, no training) is exported once per module; the slow tests start fresh Python
processes (saved_model_cli, a consumer that never imports keras_seq2seq).
"""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_seq2seq as ks
from keras_seq2seq import export
from keras_seq2seq.export import export_translator, load_translator, state_layout
from keras_seq2seq.text import CharacterTokenizer

SOURCES = ["3 March 2023", "Mar 3, 23", "03/03/2023", "the 25th of December, 1999"]
TARGETS = ["2023-03-03", "1999-12-25", "2000-01-01"]
TEXTS = SOURCES + ["", "   ", "4 April", "zzz ÿ", "1", "\u3000\t", "December 1999"]
MAX_LENGTH = 10
BIN = os.path.dirname(sys.executable)


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.trainable_weights:
        variable.assign(rng.normal(0.0, 0.8, variable.shape).astype("float32"))


def _tiny_model(with_tokenizers=True, seed=0, **kwargs):
    source = CharacterTokenizer.from_texts(SOURCES, name="source_tokenizer")
    target = CharacterTokenizer.from_texts(TARGETS, name="target_tokenizer")
    keras.utils.set_random_seed(seed)
    tokenizers = ({"source_tokenizer": source, "target_tokenizer": target}
                  if with_tokenizers else {})
    model = ks.Seq2Seq(source.vocabulary_size, target.vocabulary_size, embedding_dim=8,
                       units=16, max_decode_length=MAX_LENGTH, **tokenizers, **kwargs)
    _randomize(model, seed)
    return model, source


@pytest.fixture(scope="module")
def tiny():
    return _tiny_model()


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory):
    model, _ = tiny
    path = str(tmp_path_factory.mktemp("export") / "translator")
    assert export_translator(model, path) == path
    return path


@pytest.fixture(scope="module")
def beam_export(tiny, tmp_path_factory):
    """A beam-3 export with length penalty 0.6 and a 2-best endpoint."""
    model, _ = tiny
    path = str(tmp_path_factory.mktemp("export") / "beam3")
    return export_translator(model, path, beam_width=3, n_best=2, length_penalty=0.6)


@pytest.fixture(scope="module")
def restored(exported):
    import tensorflow_text  # noqa: F401

    return tf.saved_model.load(exported)


def _run(args, timeout=120):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


def _strings(tensor):
    return [value.decode("utf-8") for value in np.asarray(tensor).tolist()]


# ----------------------------------------------------------------- fresh process
CONSUMER = r"""
import json, sys
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

path, texts = sys.argv[1], json.loads(sys.argv[2])
proto = saved_model_pb2.SavedModel()
with open(path + "/saved_model.pb", "rb") as f:
    proto.ParseFromString(f.read())
graph = proto.meta_graphs[0].graph_def
functions = {f.signature.name for f in graph.library.function}
ops = {n.op for n in graph.node} | {n.op for f in graph.library.function
                                     for n in f.node_def}
not_core = sorted(op for op in ops - functions if op_def_registry.get(op) is None)

import tensorflow_text  # registers the tokenizers' ops
not_text = sorted(op for op in not_core if op_def_registry.get(op) is None)
loaded = tf.saved_model.load(path)
out = loaded.translate(tf.constant(texts))
signature = loaded.signatures["serving_default"](texts=tf.constant(texts))
# One sentence a call: the XLA-compiled search of a jit_compile export.
singles = [loaded.translate(tf.constant([text]))["translations"].numpy()[0]
           for text in texts]
print(json.dumps({
    "keras_seq2seq_imported": any(m.split(".")[0] == "keras_seq2seq" for m in sys.modules),
    "not_core": not_core,
    "not_text": not_text,
    "translations": [t.decode("utf-8") for t in out["translations"].numpy().tolist()],
    "serving_default": [t.decode("utf-8")
                        for t in signature["translations"].numpy().tolist()],
    "lengths": out["lengths"].numpy().tolist(),
    "one_a_call": [t.decode("utf-8") for t in singles],
    "signatures": sorted(loaded.signatures),
}))
"""


@pytest.mark.slow
def test_fresh_process_without_the_package_gives_the_same_strings(tiny, exported):
    model, _ = tiny
    result = _run([sys.executable, "-c", CONSUMER, exported, json.dumps(TEXTS)])
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["keras_seq2seq_imported"] is False
    # Only core TF ops, plus tensorflow-text's (NFKC normalisation here).
    assert report["not_text"] == []
    assert set(report["not_core"]) <= {"NormalizeUTF8", "CaseFoldUTF8"}
    expected = model.translate(TEXTS)
    assert report["translations"] == expected
    assert report["serving_default"] == expected
    assert report["one_a_call"] == expected
    for i, text in enumerate(TEXTS):
        if not text.strip():
            assert report["translations"][i] == "" and report["lengths"][i] == 0
    assert {"serving_default", "translate", "translate_ids", "encode",
            "decode_step", "tokenize", "detokenize"} <= set(report["signatures"])


def test_load_translator_and_endpoint_outputs(tiny, exported):
    model, _ = tiny
    translator = load_translator(exported)
    assert translator.translate(TEXTS) == model.translate(TEXTS)
    assert translator.translate("3 March 2023") == model.translate("3 March 2023")
    assert translator.translate([]) == []
    full = translator.translate_full(TEXTS)
    batch = len(TEXTS)
    assert full["tokens"].shape == (batch, MAX_LENGTH) and full["tokens"].dtype == np.int32
    assert full["lengths"].shape == (batch,) and full["scores"].dtype == np.float32
    width = max(len(t) for t in TEXTS if t.strip())
    assert full["attention"].shape == (batch, MAX_LENGTH, width)
    blank = np.array([not t.strip() for t in TEXTS])
    assert (full["lengths"][blank] == 0).all() and (full["scores"][blank] == 0).all()
    assert not full["tokens"][blank].any() and not full["attention"][blank].any()
    assert translator.metadata["decoding"] == "greedy"
    assert translator.metadata["max_length"] == MAX_LENGTH
    # All blank, and an empty batch.
    assert translator.translate(["", " "]) == ["", ""]
    empty = translator.module.translate(tf.constant([], tf.string))
    assert empty["translations"].shape == (0,) and empty["tokens"].shape == (0, MAX_LENGTH)


def test_translate_ids_matches_generate(tiny, restored):
    model, source = tiny
    ids = source.tokenize([t for t in TEXTS if t.strip()]).to_tensor()
    expected = model.generate(ids)
    out = restored.translate_ids(ids)
    np.testing.assert_array_equal(out["tokens"], expected.ids)
    np.testing.assert_array_equal(out["lengths"], expected.lengths)
    np.testing.assert_allclose(out["scores"], expected.scores, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out["attention"], expected.attention, atol=1e-6)
    # An all-pad row is an empty source: forced empty. Ts == 0 is padded to 1.
    padded = tf.concat([ids, tf.zeros([1, ids.shape[1]], tf.int32)], axis=0)
    out = restored.translate_ids(padded)
    np.testing.assert_array_equal(out["tokens"][:-1], expected.ids)
    assert int(out["lengths"][-1]) == 0 and not out["tokens"][-1].numpy().any()
    out = restored.translate_ids(tf.zeros([2, 0], tf.int32))
    assert out["tokens"].shape == (2, MAX_LENGTH) and not out["lengths"].numpy().any()
    with pytest.raises(tf.errors.InvalidArgumentError, match="vocabulary size"):
        restored.translate_ids(tf.constant([[model.source_vocabulary_size]]))


def test_tokenize_and_detokenize_endpoints(tiny, restored):
    model, source = tiny
    ids = restored.tokenize(tf.constant(["3 March", "  "]))["source_ids"].numpy()
    np.testing.assert_array_equal(ids[0], source.tokenize("3 March").numpy())
    assert not ids[1].any()  # whitespace-only: no token
    target_ids = model.generate(ids[:1]).ids
    texts = restored.detokenize(target_ids)["texts"]
    assert _strings(texts) == _strings(model.target_tokenizer.detokenize(target_ids))


def test_encode_and_decode_step_loop_equals_greedy(tiny, restored):
    model, source = tiny
    ids = source.tokenize(SOURCES).to_tensor()
    expected = model.generate(ids)
    state = restored.signatures["encode"](source_ids=ids)
    assert set(state) == set(state_layout(model))
    step = restored.signatures["decode_step"]
    tokens = tf.fill([len(SOURCES)], 2)  # [START]
    finished = np.zeros(len(SOURCES), bool)
    outputs = []
    for _ in range(MAX_LENGTH):
        out = step(token_ids=tokens, **state)
        state = {name: out[name] for name in state}
        assert out["logits"].shape == (len(SOURCES), model.target_vocabulary_size)
        assert out["attention"].shape == (len(SOURCES), ids.shape[1])
        next_tokens = np.argmax(out["logits"].numpy(), axis=-1).astype("int32")
        next_tokens[finished] = 0
        outputs.append(next_tokens)
        finished |= next_tokens == 3
        tokens = tf.constant(next_tokens)
        if finished.all():
            break
    greedy = np.stack(outputs, axis=1)
    np.testing.assert_array_equal(greedy, expected.ids.numpy()[:, :greedy.shape[1]])
    assert int(out["time"].numpy()[0]) == len(outputs)


@pytest.mark.slow
def test_beam_exports_match_model_translate(tiny, beam_export, tmp_path):
    model, _ = tiny
    import tensorflow_text  # noqa: F401

    one = export_translator(model, str(tmp_path / "beam1"), beam_width=1)
    loaded = tf.saved_model.load(one)
    greedy = model.translate(TEXTS)
    out = loaded.translate(tf.constant(TEXTS))
    assert _strings(out["translations"]) == greedy

    translator = load_translator(beam_export)
    expected = model.translate(TEXTS, method="beam", beam_width=3, length_penalty=0.6)
    assert translator.translate(TEXTS) == expected
    assert translator.metadata["beam_width"] == 3
    assert translator.metadata["options"] == {"beam_width": 3, "length_penalty": 0.6}


@pytest.mark.slow
def test_saved_model_cli_show_and_run(exported):
    cli = [os.path.join(BIN, "saved_model_cli")]
    if not os.path.exists(cli[0]):  # the same program, from the tensorflow package
        cli = [sys.executable, "-c", "import sys; from tensorflow.python.tools."
               "saved_model_cli import main; sys.argv[0] = 'x'; sys.exit(main())"]
    shown = _run(cli + ["show", "--dir", exported, "--all"])
    assert shown.returncode == 0, shown.stderr[-3000:]
    for name in ("serving_default", "translate", "translate_ids", "decode_step"):
        assert f"signature_def['{name}']" in shown.stdout
    assert "inputs['texts']" in shown.stdout and "outputs['translations']" in shown.stdout

    # saved_model_cli itself cannot load tensorflow-text's ops ...
    args = ["run", "--dir", exported, "--tag_set", "serve", "--signature_def",
            "translate", "--input_exprs", 'texts=["3 March 2023", ""]']
    plain = _run(cli + args)
    assert plain.returncode != 0 and "NormalizeUTF8" in plain.stderr
    # ... the documented one-liner imports tensorflow_text, then runs the CLI.
    wrapped = _run([sys.executable, "-c", export.SAVED_MODEL_CLI_WITH_TF_TEXT] + args)
    assert wrapped.returncode == 0, wrapped.stderr[-3000:]
    assert "Result for output key translations:" in wrapped.stdout


def test_tfsm_layer_in_a_keras_model(tiny, exported):
    model, _ = tiny
    layer = keras.layers.TFSMLayer(exported, call_endpoint="serving_default")
    inputs = keras.Input(shape=(), dtype="string", name="texts")
    outputs = layer(inputs)
    wrapper = keras.Model(inputs, outputs["translations"])
    assert _strings(wrapper(tf.constant(TEXTS))) == model.translate(TEXTS)


def _graph_ops(path):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    graph = proto.meta_graphs[0].graph_def
    return {n.op for n in graph.node} | {n.op for f in graph.library.function
                                         for n in f.node_def}


def test_ids_only_export_is_portable_even_when_traced_with_a_gpu(tmp_path, monkeypatch):
    """No tokenizers: id endpoints only. A bidirectional GRU encoder traced while
    Keras believes a GPU is present must still not contain cuDNN ops."""
    import importlib

    model, source = _tiny_model(with_tokenizers=False, seed=1, cell_type="gru",
                                bidirectional=True, encoder_units=8)
    ids = source.tokenize(SOURCES).to_tensor()
    expected = model.generate(ids).ids  # before pretending to have a GPU
    rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    monkeypatch.setattr(rnn, "_is_gpu_available", lambda: True)
    path = export_translator(model, str(tmp_path / "ids_only"))
    monkeypatch.undo()
    assert not [op for op in _graph_ops(path) if "Cudnn" in op]
    assert all(layer.use_cudnn == "auto" for layer in model._flatten_layers()
               if hasattr(layer, "use_cudnn"))  # restored
    loaded = tf.saved_model.load(path)
    assert "translate" not in loaded.signatures
    out = loaded.signatures["serving_default"](source_ids=ids)
    np.testing.assert_array_equal(out["tokens"], expected)
    with pytest.raises(ValueError, match="no 'translate' endpoint"):
        load_translator(path).translate(["x"])


# ----------------------------------------------------------------- safety
def test_overwrite_is_refused_then_allowed(tiny, exported, tmp_path):
    model, _ = tiny
    before = sorted(os.listdir(exported))
    with pytest.raises(FileExistsError, match="overwrite=True") as info:
        export_translator(model, exported)
    assert exported in str(info.value)
    assert sorted(os.listdir(exported)) == before

    path = tmp_path / "replaced"
    path.mkdir()
    (path / "old.txt").write_text("old")
    export_translator(model, str(path), overwrite=True)
    assert not (path / "old.txt").exists() and (path / "saved_model.pb").exists()
    assert sorted(os.listdir(tmp_path)) == ["replaced"]  # no temporary left
    assert load_translator(path).translate(["4 April"]) == model.translate(["4 April"])


def test_failure_mid_export_leaves_nothing(tiny, exported, tmp_path, monkeypatch):
    model, _ = tiny

    def broken_save(obj, export_dir, *args, **kwargs):
        with open(os.path.join(export_dir, "saved_model.pb"), "wb") as f:
            f.write(b"partial")
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(tf.saved_model, "save", broken_save)
    path = tmp_path / "translator"
    with pytest.raises(RuntimeError, match="simulated"):
        export_translator(model, str(path))
    assert os.listdir(tmp_path) == []

    # With overwrite=True, the previous export survives a failed one.
    shutil.copytree(exported, path)
    with pytest.raises(RuntimeError, match="simulated"):
        export_translator(model, str(path), overwrite=True)
    assert os.listdir(tmp_path) == ["translator"]
    assert load_translator(path).translate(["1"]) == model.translate(["1"])


def test_load_translator_errors_name_the_path(exported, tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_translator(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no saved_model.pb") as info:
        load_translator(empty)
    assert str(empty) in str(info.value)
    a_file = tmp_path / "model.keras"
    a_file.write_bytes(b"x")
    with pytest.raises(ValueError, match="not a SavedModel directory"):
        load_translator(a_file)

    for name, damage in (("truncated", lambda data: data[: len(data) // 2]),
                         ("garbage", lambda data: os.urandom(len(data)))):
        broken = tmp_path / name
        shutil.copytree(exported, broken)
        pb = broken / "saved_model.pb"
        pb.write_bytes(damage(pb.read_bytes()))
        with pytest.raises(ValueError, match="truncated or corrupted") as info:
            load_translator(broken)
        assert str(broken) in str(info.value)


# ----------------------------------------------------------------- arguments
def test_argument_errors(tiny, tmp_path):
    model, _ = tiny
    path = str(tmp_path / "never")
    with pytest.raises(ValueError, match="beam_width"):
        export_translator(model, path, beam_width=0)
    with pytest.raises(ValueError, match="max_length"):
        export_translator(model, path, max_length=0)
    with pytest.raises(ValueError, match="need beam_width"):
        export_translator(model, path, length_penalty=0.5)
    with pytest.raises(ValueError, match="Unknown option"):
        export_translator(model, path, beam_width=2, num_return=2)
    with pytest.raises(ValueError, match="Seq2Seq"):
        export_translator(keras.Sequential([keras.layers.Dense(1)]), path)
    assert not os.path.exists(path)


def test_state_layout(tiny):
    model, _ = tiny
    layout = state_layout(model)
    assert sorted(layout) == ["attentional", "keys", "memory", "memory_mask",
                              "rnn_0_0", "rnn_0_1", "source_lengths", "time"]
    assert layout["memory"] == ("float32", (None, None, 16))
    assert layout["memory_mask"] == ("bool", (None, None))
    assert layout["rnn_0_1"] == ("float32", (None, 16))
    assert layout["time"] == ("int32", (None,))


def test_blank_pattern_is_pythons_whitespace():
    whitespace = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    texts = tf.constant([whitespace, "", "a", " a ", "\u200b"])
    blank = tf.strings.regex_full_match(texts, export.BLANK_PATTERN).numpy().tolist()
    assert blank == [True, True, False, False, "\u200b".isspace()]
    singles = tf.strings.regex_full_match(tf.constant(list(whitespace)),
                                          export.BLANK_PATTERN)
    assert singles.numpy().all()


@pytest.mark.parametrize("local_attention", ["monotonic", "predictive"])
def test_local_attention_exports_greedy_and_beam(local_attention, tmp_path):
    """local-m and local-p: the SavedModel gives the model's greedy and beam strings."""
    model, _ = _tiny_model(local_attention=local_attention, attention_window=2,
                           seed=3)
    import tensorflow_text  # noqa: F401

    greedy = load_translator(export_translator(model, str(tmp_path / "greedy")))
    assert greedy.translate(TEXTS) == model.translate(TEXTS)
    beam = load_translator(export_translator(model, str(tmp_path / "beam"),
                                             beam_width=3))
    assert beam.translate(TEXTS) == model.translate(TEXTS, method="beam", beam_width=3)
    assert len(set(model.translate(TEXTS))) > 2   # varied outputs, not all empty


# ----------------------------------------------- two different tokenizers, fresh process
GERMAN = ["ein mann läuft schnell über die straße", "eine frau liest ein buch im park",
          "zwei hunde spielen im schnee", "das kind isst einen großen apfel"]
ENGLISH = ["a man runs quickly across the street", "a woman reads a book in the park",
           "two dogs play in the snow", "the child eats a big apple"]
PAIR_TEXTS = GERMAN + ["ein hund im park", "", "straße"]

PAIR_CONSUMER = r"""
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the tokenizers' ops
texts = tf.constant(json.loads(sys.argv[1]))
out = {}
for path in sys.argv[2:]:
    loaded = tf.saved_model.load(path)
    out[path] = {
        "translations": [t.decode("utf-8") for t in
                         loaded.translate(texts)["translations"].numpy().tolist()],
        "source_ids": loaded.tokenize(texts)["source_ids"].numpy().tolist(),
    }
out["keras_seq2seq_imported"] = any(m.split(".")[0] == "keras_seq2seq"
                                    for m in sys.modules)
print(json.dumps(out))
"""


def _tokenizer_pair(kind):
    from keras_seq2seq.text import (
        SentencePieceTokenizer,
        WordPieceTokenizer,
        WordTokenizer,
    )

    if kind == "sentencepiece":
        return (SentencePieceTokenizer.train(GERMAN * 10, vocabulary_size=40,
                                             name="source_tokenizer"),
                SentencePieceTokenizer.train(ENGLISH * 10, vocabulary_size=45,
                                             name="target_tokenizer"))
    if kind == "wordpiece":
        return (WordPieceTokenizer.from_texts(GERMAN, vocabulary_size=60,
                                              name="source_tokenizer"),
                WordPieceTokenizer.from_texts(ENGLISH, vocabulary_size=70,
                                              name="target_tokenizer"))
    return (WordTokenizer.from_texts(GERMAN, name="source_tokenizer"),
            WordTokenizer.from_texts(ENGLISH, name="target_tokenizer"))


TOKENIZER_KINDS = ("sentencepiece", "wordpiece", "word")


@pytest.fixture(scope="module")
def tokenizer_exports(tmp_path_factory):
    """A model per tokenizer kind with its greedy export (and the SentencePiece one's
    beam export), and what one fresh process (tensorflow + tensorflow_text, not this
    package) made of all four."""
    folder = tmp_path_factory.mktemp("tokenizer_exports")
    built = {}
    for kind in TOKENIZER_KINDS:
        source, target = _tokenizer_pair(kind)
        keras.utils.set_random_seed(3)
        model = ks.Seq2Seq(source.vocabulary_size, target.vocabulary_size,
                           embedding_dim=8, units=16, max_decode_length=MAX_LENGTH,
                           source_tokenizer=source, target_tokenizer=target)
        _randomize(model, 3)
        greedy = export_translator(model, str(folder / kind / "greedy"))
        # (the tokenizers' ops are the same in a beam export: one kind is enough)
        beam = export_translator(model, str(folder / kind / "beam"), beam_width=3,
                                 length_penalty=0.6) if kind == "sentencepiece" else None
        built[kind] = (model, source, target, greedy, beam)
    paths = [path for *_, greedy, beam in built.values() for path in (greedy, beam)
             if path is not None]
    result = _run([sys.executable, "-c", PAIR_CONSUMER, json.dumps(PAIR_TEXTS), *paths],
                  timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return built, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_two_different_tokenizers_translate_identically_in_a_fresh_process(
        kind, tokenizer_exports):
    """Regression: with two SentencePiece models, the loaded export detokenized the
    target ids with the *source* model (both kernel-owned resources got one name)."""
    built, report = tokenizer_exports
    model, source, target, greedy, beam = built[kind]
    assert source.get_vocabulary() != target.get_vocabulary()
    assert report["keras_seq2seq_imported"] is False
    expected_greedy = model.translate(PAIR_TEXTS)
    # A random model still gives varied, non-empty strings for the non-blank inputs.
    assert len(set(expected_greedy)) >= 4
    assert report[greedy]["translations"] == expected_greedy
    if beam is not None:
        assert report[beam]["translations"] == model.translate(
            PAIR_TEXTS, method="beam", beam_width=3, length_penalty=0.6)
    ids = source.tokenize(tf.constant(PAIR_TEXTS)).to_tensor().numpy()
    exported_ids = np.asarray(report[greedy]["source_ids"])
    np.testing.assert_array_equal(exported_ids[:, :ids.shape[1]], ids)


# ------------------------------------------------------------ scoring and n-best
PAIRS = [("3 March 2023", "2023-03-03"), ("", "2020-01-01"), ("4 April", ""),
         ("zzz ÿ", "1999-12-31"), ("December 1999", "1999-12-01")]


def test_score_endpoint_equals_model_score(tiny, exported):
    model, _ = tiny
    translator = load_translator(exported)
    sources, targets = [s for s, _ in PAIRS], [t for _, t in PAIRS]
    found = translator.score(sources, targets)
    expected = model.score(sources, targets)
    for row, score in enumerate(expected):
        length = len(score.tokens)
        assert found["lengths"][row] == length
        assert _strings(found["target_tokens"][row, :length]) == score.tokens
        assert _strings(found["source_tokens"][row, :len(score.source_tokens)]) == \
            score.source_tokens
        assert found["source_lengths"][row] == len(score.source_tokens)
        assert found["log_probs"][row] == pytest.approx(score.log_prob, abs=1e-4)
        np.testing.assert_allclose(found["token_log_probs"][row, :length],
                                   score.token_log_probs, atol=1e-5)
        assert not found["token_log_probs"][row, length:].any()
        np.testing.assert_allclose(
            found["attention"][row, :length, :len(score.source_tokens)],
            score.attention, atol=1e-5)
    ids = model.source_tokenizer.tokenize(sources[:1]).to_tensor()
    target_ids = model.target_tokenizer.tokenize(targets[:1]).to_tensor()
    by_ids = translator.module.score_ids(ids, target_ids)
    assert float(by_ids["log_probs"][0]) == pytest.approx(expected[0].log_prob, abs=1e-4)
    with pytest.raises(ValueError, match="one target per source"):
        translator.score(["a"], [])


def test_translate_outputs_the_token_strings_of_its_attention(tiny, exported):
    model, _ = tiny
    full = load_translator(exported).translate_full(TEXTS)
    for row, found in enumerate(model.translate_full(TEXTS)):
        rows, columns = len(found.tokens), len(found.source_tokens)
        assert _strings(full["target_tokens"][row, :rows]) == found.tokens
        assert not any(_strings(full["target_tokens"][row, rows:]))
        assert _strings(full["source_tokens"][row, :columns]) == found.source_tokens
        assert full["source_lengths"][row] == columns


@pytest.mark.slow
def test_n_best_endpoint_equals_model_n_best(tiny, exported, beam_export, tmp_path):
    model, _ = tiny
    translator = load_translator(beam_export)
    assert translator.metadata["n_best"] == 2
    expected = model.n_best(TEXTS, 2, beam_width=3, length_penalty=0.6)
    found = translator.n_best(TEXTS)
    assert [[text for text, _ in hyps] for hyps in found] == \
        [[text for text, _ in hyps] for hyps in expected]
    for hyps, want in zip(found, expected):
        np.testing.assert_allclose([s for _, s in hyps], [s for _, s in want],
                                   atol=1e-4)
    assert translator.n_best(TEXTS[0], k=1) == found[0][:1]
    assert found[TEXTS.index("")] == []
    ids = model.source_tokenizer.tokenize(TEXTS[:2]).to_tensor()
    assert translator.module.n_best_ids(ids)["tokens"].shape == (2, 2, MAX_LENGTH)
    with pytest.raises(ValueError, match="returns 2 hypotheses per sentence; k=3"):
        translator.n_best(TEXTS, k=3)
    with pytest.raises(ValueError, match="no 'n_best' endpoint.*beam_width=N"):
        load_translator(exported).n_best(TEXTS)
    with pytest.raises(ValueError, match="`n_best` \\(4\\) needs a beam at least as wide"):
        export_translator(model, str(tmp_path / "bad"), beam_width=3, n_best=4)
    with pytest.raises(ValueError, match="`n_best` \\(2\\) needs a beam"):
        export_translator(model, str(tmp_path / "bad"), n_best=2)
    assert not (tmp_path / "bad").exists()


def test_each_weight_is_saved_once(tiny, exported):
    """The variable collections reference the endpoints' own variables: the checkpoint
    holds each weight once (it held every weight twice, under `_all_variables/N` and
    `variables/N`: an export twice the size of its weights)."""
    model, _ = tiny
    saved = tf.train.list_variables(os.path.join(exported, "variables", "variables"))
    values = sum(int(np.prod(shape)) for name, shape in saved
                 if name != "_CHECKPOINTABLE_OBJECT_GRAPH")
    weights = sum(int(np.prod(v.shape)) for v in model.variables)
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    assert trainable <= values <= weights
    restored = load_translator(exported).module
    assert len(restored.variables) == len(model.variables)
    assert len(restored.trainable_variables) == len(model.trainable_variables)


def _xla_marked(function):
    """Whether a traced function calls a function marked for XLA compilation."""
    graph_def = function.graph.as_graph_def()
    nodes = list(graph_def.node) + [node for f in graph_def.library.function
                                    for node in f.node_def]
    return any(node.attr["_XlaMustCompile"].b for node in nodes
               if "_XlaMustCompile" in node.attr)


def test_single_sentences_decode_under_xla_as_the_graph_does(tiny, exported, tmp_path):
    model, _ = tiny
    compiled = load_translator(exported)  # the default, jit_compile="auto"
    plain = load_translator(export_translator(model, str(tmp_path / "plain"),
                                              jit_compile=False))
    assert compiled.metadata["jit_compile"] is True
    assert plain.metadata["jit_compile"] is False
    spec = tf.TensorSpec([None], tf.string)
    assert _xla_marked(compiled.module.translate.get_concrete_function(spec))
    assert not _xla_marked(plain.module.translate.get_concrete_function(spec))
    # Sources of 1 to 26 characters: four length buckets of 8 ids, and a blank one.
    for text in ["1", "4 April", "Mar 3, 23", "3 March 2023", "the 25th of December, 1999",
                 "  "]:
        ours, graph = compiled.translate_full([text]), plain.translate_full([text])
        assert compiled.translate(text) == plain.translate(text) == model.translate(text)
        np.testing.assert_array_equal(ours["tokens"], graph["tokens"])
        np.testing.assert_array_equal(ours["lengths"], graph["lengths"])
        np.testing.assert_allclose(ours["scores"], graph["scores"], atol=1e-5)
        assert ours["attention"].shape == graph["attention"].shape
        np.testing.assert_allclose(ours["attention"], graph["attention"], atol=1e-5)
    # Several sentences take the graph path in both.
    assert compiled.translate(TEXTS) == plain.translate(TEXTS)


@pytest.mark.slow
def test_beam_export_under_xla_matches_model_translate(tiny, tmp_path):
    model, _ = tiny
    path = export_translator(model, str(tmp_path / "beam"), beam_width=3,
                             coverage_penalty=0.2, length_penalty=0.6, jit_compile=True)
    translator = load_translator(path)
    assert translator.metadata["jit_compile"] is True
    for text in SOURCES:
        assert translator.translate(text) == model.translate(
            text, method="beam", beam_width=3, coverage_penalty=0.2, length_penalty=0.6)


def test_jit_compile_falls_back_or_raises_where_xla_cannot_compile(tiny, tmp_path,
                                                                  monkeypatch):
    model, _ = tiny

    def refuse(self, source_ids):
        raise tf.errors.InvalidArgumentError(None, None, "Detected unsupported op: Foo")

    monkeypatch.setattr(export.graph.TranslatorGraph, "compiled_search", refuse)
    with pytest.warns(UserWarning, match="XLA cannot compile .*unsupported op: Foo"):
        path = export_translator(model, str(tmp_path / "auto"))
    translator = load_translator(path)
    assert translator.metadata["jit_compile"] is False
    assert translator.translate(SOURCES[0]) == model.translate(SOURCES[0])
    with pytest.raises(ValueError, match="jit_compile=True.*unsupported op: Foo"):
        export_translator(model, str(tmp_path / "on"), jit_compile=True)
    assert not os.path.exists(tmp_path / "on")
    with pytest.raises(ValueError, match="jit_compile"):
        export_translator(model, str(tmp_path / "bad"), jit_compile="yes")
