"""`--help` without TensorFlow, the lazy `import keras_seq2seq` (PEP 562) and its
registration rule for `.keras` files, each in a fresh Python process."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from keras_seq2seq import config as config_lib
from keras_seq2seq.cli import config_keys

HELP_SCRIPT = textwrap.dedent("""
    import contextlib, io, json, subprocess, sys
    import keras_seq2seq as ks
    from keras_seq2seq import cli

    def run(argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                status = cli.main(argv)
            except SystemExit as stop:
                status = stop.code
        return {"status": status, "out": out.getvalue()}

    names = list(cli.build_parser()._subparsers._group_actions[0].choices)
    report = {"names": names, "commands": len(cli.COMMANDS), "top": run(["--help"]),
              "each": {name: run([name, "--help"]) for name in names}}
    report["imported"] = sorted({"tensorflow", "keras"} & set(sys.modules))
    report["dir"] = dir(ks)
    report["all"] = ks.__all__
    report["loaded"] = ks._lazy.loaded()
    main = subprocess.run([sys.executable, "-m", "keras_seq2seq", "--help"],
                          capture_output=True, text=True)
    report["python_m"] = {"status": main.returncode, "out": main.stdout}
    print(json.dumps(report))
""")


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop("KERAS_BACKEND", None)
    return env


def _python(script, *args):
    """Runs `script` in a fresh interpreter; returns its last stdout line as JSON."""
    run = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=_env(),
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_help_of_the_command_and_each_subcommand_imports_no_tensorflow():
    report = _python(HELP_SCRIPT)
    assert report["imported"] == []          # neither tensorflow nor keras
    assert not report["loaded"]
    assert len(report["names"]) == report["commands"]
    for help_run in (report["top"], report["python_m"]):
        assert help_run["status"] == 0
        assert help_run["out"].startswith("usage: keras-seq2seq ")
        assert "\nExample:\n  keras-seq2seq " in help_run["out"]
    for name, help_run in report["each"].items():
        assert help_run["status"] == 0, name
        assert help_run["out"].startswith(f"usage: keras-seq2seq {name} "), name
        assert f"\nExample:\n  keras-seq2seq {name} " in help_run["out"], name
    # `train --help` still lists every configuration key.
    for section, keys in config_lib.SCHEMA.items():
        for key in keys:
            assert f"  {section}.{key}:" in report["each"]["train"]["out"]
    # dir() lists the public names before any of them is loaded.
    assert set(report["all"]) <= set(report["dir"])
    assert {"Seq2Seq", "BleuCallback", "layers", "models", "text", "export",
            "saving"} <= set(report["all"])


def test_config_keys_text_is_describe_keys():
    """`train --help`'s generated key list is current; if not, run
    `python -m keras_seq2seq.cli.config_keys`."""
    assert config_keys.TEXT == config_lib.describe_keys()


# --------------------------------------------------- registration, fresh processes

LOAD_SCRIPTS = {
    # The eager rule: Keras (or TensorFlow) first, so everything registers at import.
    "keras_first": """
        import keras
        import keras_seq2seq
        assert keras_seq2seq._lazy.loaded()
        model = keras.saving.load_model(sys.argv[1])
    """,
    "tensorflow_first": """
        import tensorflow as tf
        import keras_seq2seq
        assert keras_seq2seq._lazy.loaded()
        import keras
        model = keras.saving.load_model(sys.argv[1])
    """,
    # The lazy path: nothing of TensorFlow until a name or a Keras submodule is used.
    "lazy_then_saving_load_model": """
        import keras_seq2seq
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        from keras_seq2seq import saving
        model = saving.load_model(sys.argv[1])
    """,
    "lazy_then_attribute": """
        import keras_seq2seq as ks
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
        assert set(ks.__all__) <= set(dir(ks))
        assert ks.Seq2Seq.__name__ == "Seq2Seq"
        import keras
        model = keras.saving.load_model(sys.argv[1])
    """,
    # layers alone defines no Seq2Seq: the import hook registers the rest.
    "lazy_then_submodule_import": """
        from keras_seq2seq.layers import DotAttention
        import keras
        model = keras.saving.load_model(sys.argv[1])
    """,
}

LOAD_REPORT = """
    import json
    print(json.dumps({"model": type(model).__name__,
                      "tokenizer": type(model.source_tokenizer).__name__,
                      "translation": model.translate(["abc"])}))
"""


@pytest.fixture(scope="module")
def tiny_keras_file(tmp_path_factory):
    """A tiny untrained `Seq2Seq` with character tokenizers, saved; its translation."""
    import keras

    import keras_seq2seq as ks
    from keras_seq2seq.text import CharacterTokenizer

    keras.utils.set_random_seed(0)
    source = CharacterTokenizer.from_texts(["abc"])
    target = CharacterTokenizer.from_texts(["cba"])
    model = ks.Seq2Seq(source.vocabulary_size, target.vocabulary_size, embedding_dim=4,
                       units=8, max_decode_length=4, source_tokenizer=source,
                       target_tokenizer=target)
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    model.save(path)
    return path, model.translate(["abc"])


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(LOAD_SCRIPTS))
def test_a_fresh_process_loads_a_keras_file(case, tiny_keras_file):
    path, translation = tiny_keras_file
    script = ("import sys\n" + textwrap.dedent(LOAD_SCRIPTS[case])
              + textwrap.dedent(LOAD_REPORT))
    report = _python(script, path)
    assert report == {"model": "Seq2Seq", "tokenizer": "CharacterTokenizer",
                      "translation": translation}
