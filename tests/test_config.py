"""TOML training configurations: defaults, overrides and exact error messages."""

import os
import pathlib

import pytest

from keras_seq2seq import config as config_lib
from keras_seq2seq import training
from keras_seq2seq.config import ConfigError, load_config, parse_override

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "train_config.toml"


def write(tmp_path, text, name="train.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def error_of(path, overrides=None):
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return str(info.value)


# ----------------------------------------------------------------------- defaults


def test_defaults_fill_every_key_and_paths_are_relative_to_the_file(tmp_path):
    path = write(tmp_path, '[data]\npath = "corpus/fra.txt"\n')
    config = load_config(path)
    assert set(config) == {"data", "tokenizer", "model", "training", "output"}
    for section, keys in config_lib.SCHEMA.items():
        assert set(config[section]) == set(keys)
    assert config["data"]["path"] == str(tmp_path / "corpus" / "fra.txt")
    assert config["output"]["dir"] == str(tmp_path / "train_output")
    assert config["data"]["format"] == "tsv"
    assert config["data"]["source_file"] is None
    assert config["tokenizer"] == {"type": "sentencepiece", "source_vocabulary_size": 8000,
                                   "target_vocabulary_size": 8000, "lowercase": False,
                                   "joint": False}
    assert config["model"]["units"] == 256 and config["model"]["encoder_units"] is None
    assert config["model"]["cell_type"] == "lstm"
    assert config["training"]["teacher_forcing"] == 1.0
    assert config["training"]["learning_rate"] == 0.001
    assert config["output"]["export"] is True


def test_numbers_are_normalised(tmp_path):
    path = write(tmp_path, '[data]\npath = "a.tsv"\n[training]\nlearning_rate = 1\n'
                           'teacher_forcing = 0\n[model]\ndropout = 0\n')
    config = load_config(path)
    assert config["training"]["learning_rate"] == 1.0
    assert isinstance(config["training"]["learning_rate"], float)
    assert config["training"]["teacher_forcing"] == 0.0
    assert isinstance(config["model"]["dropout"], float)


def test_the_example_config_is_valid_and_documents_every_key():
    config = load_config(EXAMPLE)
    assert config["training"]["teacher_forcing"] == {"name": "inverse_sigmoid", "k": 500}
    assert config["data"]["validation_split"] == 0.05
    text = EXAMPLE.read_text(encoding="utf-8")
    for section, keys in config_lib.SCHEMA.items():
        assert f"[{section}]" in text
        for name in keys:
            assert name in text, f"{section}.{name} missing from the example"


def test_describe_keys_lists_every_key():
    text = config_lib.describe_keys()
    for section, keys in config_lib.SCHEMA.items():
        for name in keys:
            assert f"{section}.{name}:" in text
    assert "model.cell_type: one of: lstm, gru (default \"lstm\")" in text


# ---------------------------------------------------------------------- overrides


def test_parse_override_reads_toml_values_and_plain_strings():
    assert parse_override("model.units=64") == ("model.units", 64)
    assert parse_override("training.learning_rate = 3e-4") == (
        "training.learning_rate", 3e-4)
    assert parse_override("model.bidirectional=true") == ("model.bidirectional", True)
    assert parse_override('model.cell_type="gru"') == ("model.cell_type", "gru")
    assert parse_override("data.path=corpus.tsv") == ("data.path", "corpus.tsv")
    assert parse_override('training.teacher_forcing={ name = "linear", slope = 0.1 }') == (
        "training.teacher_forcing", {"name": "linear", "slope": 0.1})


@pytest.mark.parametrize("text", ["units=3", "model.units", "units"])
def test_parse_override_needs_section_key_value(text):
    with pytest.raises(ConfigError) as info:
        parse_override(text)
    assert str(info.value) == (
        f"invalid override {text!r}: use SECTION.KEY=VALUE, e.g. model.units=256")


def test_overrides_win_and_their_paths_are_relative_to_the_cwd(tmp_path, monkeypatch):
    path = write(tmp_path, '[data]\npath = "a.tsv"\n[model]\nunits = 32\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path, {"model.units": 8, "output.dir": "out",
                                "training.epochs": 3})
    assert config["model"]["units"] == 8
    assert config["training"]["epochs"] == 3
    assert config["output"]["dir"] == str(elsewhere / "out")
    assert config["data"]["path"] == str(tmp_path / "a.tsv")


def test_defaults_alone_with_overrides():
    config = load_config(None, {"data.path": "x.tsv"})
    assert config["data"]["path"] == os.path.join(os.getcwd(), "x.tsv")


def test_parallel_format(tmp_path):
    path = write(tmp_path, '[data]\nformat = "parallel"\nsource_file = "train.de"\n'
                           'target_file = "train.en"\ndirection = "reverse"\n')
    config = load_config(path)
    assert config["data"]["source_file"] == str(tmp_path / "train.de")
    assert config["data"]["direction"] == "reverse"


# ------------------------------------------------------------------- unknown keys


def test_unknown_key(tmp_path):
    path = write(tmp_path, '[data]\npath = "a.tsv"\n[model]\nunit = 3\n')
    assert error_of(path) == (
        f"{path}: unknown key 'model.unit'; valid keys in [model]: embedding_dim, units, "
        "encoder_units, num_layers, cell_type, bidirectional, attention, attention_units, "
        "attention_depth, attention_scale, local_attention, attention_window, "
        "input_feeding, deep_output, attentional_activation, dropout, tie_embeddings, "
        "label_smoothing, max_decode_length")


def test_unknown_section_and_top_level_key(tmp_path):
    path = write(tmp_path, '[optimizer]\nname = "adam"\n')
    assert error_of(path) == (
        f"{path}: unknown section [optimizer]; valid sections: data, tokenizer, model, "
        "training, output")
    path = write(tmp_path, 'epochs = 3\n')
    assert error_of(path) == (
        f"{path}: unknown key 'epochs'; valid sections: data, tokenizer, model, "
        "training, output")
    path = write(tmp_path, 'model = 3\n')
    assert error_of(path) == f"{path}: 'model' must be a section ([model]), got 3"


def test_unknown_override_keys():
    assert error_of(None, {"model.unit": 3}).startswith(
        "command line: unknown key 'model.unit'; valid keys in [model]: embedding_dim, ")
    assert error_of(None, {"net.units": 3}) == (
        "command line: unknown key 'net.units'; use SECTION.KEY with a section of: data, "
        "tokenizer, model, training, output")


# ---------------------------------------------------------------------- bad values


@pytest.mark.parametrize("line, message", [
    ('[model]\ncell_type = "rnn"',
     "invalid value 'rnn' for 'model.cell_type'; valid choices: lstm, gru"),
    ('[model]\nattention = "bahdanau"',
     "invalid value 'bahdanau' for 'model.attention'; valid choices: general, dot, concat"),
    ('[tokenizer]\ntype = "bpe"',
     "invalid value 'bpe' for 'tokenizer.type'; valid choices: sentencepiece, wordpiece, "
     "word, character"),
    ('[training]\nteacher_forcing_granularity = "step"',
     "invalid value 'step' for 'training.teacher_forcing_granularity'; valid choices: "
     "batch, token"),
    ('[data]\non_error = "ignore"',
     "invalid value 'ignore' for 'data.on_error'; valid choices: raise, skip"),
    ('[model]\ncell_type = 3',
     "invalid value 3 for 'model.cell_type'; valid choices: lstm, gru"),
])
def test_bad_choices(tmp_path, line, message):
    path = write(tmp_path, _with_data_path(line))
    assert error_of(path) == f"{path}: {message}"


def _with_data_path(line):
    if line.startswith("[data]\n"):
        return line + '\npath = "a.tsv"\n'
    return '[data]\npath = "a.tsv"\n' + line + "\n"


@pytest.mark.parametrize("line, message", [
    ('[model]\nunits = "64"',
     "invalid value '64' for 'model.units'; expected an integer >= 1"),
    ('[model]\nunits = 0', "invalid value 0 for 'model.units'; expected an integer >= 1"),
    ('[model]\nunits = 64.0',
     "invalid value 64.0 for 'model.units'; expected an integer >= 1"),
    ('[model]\nunits = true',
     "invalid value True for 'model.units'; expected an integer >= 1"),
    ('[model]\nbidirectional = "yes"',
     "invalid value 'yes' for 'model.bidirectional'; expected true or false"),
    ('[model]\ndropout = 1.0',
     "invalid value 1.0 for 'model.dropout'; expected a number in [0, 1)"),
    ('[training]\nlearning_rate = 0',
     "invalid value 0 for 'training.learning_rate'; expected a number > 0"),
    ('[training]\nlearning_rate = nan',
     "invalid value nan for 'training.learning_rate'; expected a number > 0"),
    ('[tokenizer]\nsource_vocabulary_size = 4',
     "invalid value 4 for 'tokenizer.source_vocabulary_size'; expected an integer >= 5"),
    ('[output]\ndir = 3', "invalid value 3 for 'output.dir'; expected a path (string)"),
    ('[output]\ndir = ""', "invalid value '' for 'output.dir'; expected a path (string)"),
])
def test_bad_types_and_ranges(tmp_path, line, message):
    path = write(tmp_path, '[data]\npath = "a.tsv"\n' + line + "\n")
    assert error_of(path) == f"{path}: {message}"


def test_bad_override_values_name_the_command_line():
    assert error_of(None, {"data.path": "a.tsv", "model.units": "abc"}) == (
        "command line: invalid value 'abc' for 'model.units'; expected an integer >= 1")


@pytest.mark.parametrize("value, message", [
    ("1.5", "invalid value 1.5 for 'training.teacher_forcing'; expected a ratio in "
            "[0, 1] or a table such as { name = \"inverse_sigmoid\", k = 500 }"),
    ('"linear"', "invalid value 'linear' for 'training.teacher_forcing'; expected a ratio "
                 "in [0, 1] or a table such as { name = \"inverse_sigmoid\", k = 500 }"),
    ('{ name = "cosine" }',
     "unknown schedule name 'cosine' for 'training.teacher_forcing'; valid names: "
     "constant, exponential, inverse_sigmoid, linear, piecewise"),
    ('{ k = 3 }',
     "missing 'name' in 'training.teacher_forcing'; valid names: "
     "constant, exponential, inverse_sigmoid, linear, piecewise"),
    ('{ name = "linear", slope = 0.1, rate = 2 }',
     "unknown parameter 'rate' of the linear schedule in 'training.teacher_forcing'; "
     "valid parameters: slope, start, minimum"),
    ('{ name = "linear" }',
     "the linear schedule in 'training.teacher_forcing' needs slope; e.g. "
     "{ name = \"linear\", slope = ... }"),
    ('{ name = "inverse_sigmoid", k = 0.5 }',
     "invalid 'training.teacher_forcing': `k` must "),
])
def test_bad_teacher_forcing(tmp_path, value, message):
    path = write(tmp_path, f'[data]\npath = "a.tsv"\n[training]\nteacher_forcing = {value}\n')
    assert error_of(path).startswith(f"{path}: {message}")


def test_teacher_forcing_schedules_are_kept_as_tables(tmp_path):
    path = write(tmp_path, '[data]\npath = "a.tsv"\n[training.teacher_forcing]\n'
                           'name = "piecewise"\nboundaries = [100]\nvalues = [1.0, 0.5]\n')
    assert load_config(path)["training"]["teacher_forcing"] == {
        "name": "piecewise", "boundaries": [100], "values": [1.0, 0.5]}


# ------------------------------------------------------------------ combinations


def test_required_and_unused_data_keys(tmp_path):
    path = write(tmp_path, '[model]\nunits = 8\n')
    assert error_of(path) == (
        f"{path}: missing key 'data.path' (required with data.format = \"tsv\")")
    path = write(tmp_path, '[data]\nformat = "parallel"\nsource_file = "a"\n')
    assert error_of(path) == (
        f"{path}: missing key 'data.target_file' (required with data.format = "
        "\"parallel\")")
    path = write(tmp_path, '[data]\nformat = "parallel"\nsource_file = "a"\n'
                           'target_file = "b"\npath = "c"\n')
    assert error_of(path) == (
        f"{path}: 'data.path' is not used with data.format = \"parallel\"; remove it or "
        "set data.format")
    path = write(tmp_path, '[data]\npath = "a"\ntarget_column = 0\n')
    assert error_of(path) == (
        f"{path}: 'data.source_column' and 'data.target_column' are both 0; they must "
        "differ")


def test_dot_attention_needs_equal_sizes(tmp_path):
    path = write(tmp_path, '[data]\npath = "a"\n[model]\nattention = "dot"\nunits = 64\n'
                           'bidirectional = true\n')
    # The constructor's own check, with the file it came from.
    assert error_of(path) == (
        f"{path}: invalid model settings: The dot score needs the encoder outputs and "
        "the decoder state to have the same size, but encoder outputs have 128 "
        "features (encoder_units=64, bidirectional=True) and the decoder has "
        "units=64. Use attention='general' or 'concat', or make them equal.")
    # A command-line override that breaks the rule names both places.
    good = write(tmp_path, '[data]\npath = "a"\n[model]\nattention = "dot"\nunits = 64\n',
                 name="good.toml")
    assert error_of(good, {"model.bidirectional": True}) == (
        f"{good}, command line: invalid model settings: The dot score needs the "
        "encoder outputs and the decoder state to have the same size, but encoder "
        "outputs have 128 features (encoder_units=64, bidirectional=True) and the "
        "decoder has units=64. Use attention='general' or 'concat', or make them "
        "equal.")
    ok = write(tmp_path, '[data]\npath = "a"\n[model]\nattention = "dot"\nunits = 64\n'
                         'encoder_units = 32\nbidirectional = true\n')
    assert load_config(ok)["model"]["attention"] == "dot"


def test_invalid_toml_and_missing_file(tmp_path):
    path = write(tmp_path, '[data]\npath = \n')
    assert error_of(path) == f"{path}: invalid TOML: Invalid value (at line 2, column 8)"
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.toml")


# -------------------------------------------------------------- building blocks


def test_load_corpus_direction_and_max_pairs(tmp_path):
    (tmp_path / "a.tsv").write_text("hi\tsalut\tcc\nyes\toui\tcc\nno\tnon\tcc\n",
                                    encoding="utf-8")
    path = write(tmp_path, '[data]\npath = "a.tsv"\ndirection = "reverse"\nmax_pairs = 2\n')
    corpus = training.load_corpus(load_config(path))
    assert corpus.sources == ["salut", "oui"] and corpus.targets == ["hi", "yes"]
    (tmp_path / "s.txt").write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "t.txt").write_text("A\nB\n", encoding="utf-8")
    path = write(tmp_path, '[data]\nformat = "parallel"\nsource_file = "s.txt"\n'
                           'target_file = "t.txt"\n')
    corpus = training.load_corpus(load_config(path))
    assert corpus.sources == ["a", "b"] and corpus.targets == ["A", "B"]


def test_split_validation_is_seeded_and_disjoint():
    sources = [str(i) for i in range(20)]
    targets = [s + "!" for s in sources]
    (train, validation) = training.split_validation(sources, targets, 0.25, seed=1)
    again = training.split_validation(sources, targets, 0.25, seed=1)
    assert (train, validation) == again
    assert len(validation[0]) == 5 and len(train[0]) == 15
    assert sorted(train[0] + validation[0], key=int) == sources
    assert all(t == s + "!" for s, t in zip(*validation))
    with pytest.raises(ConfigError):
        training.split_validation(["a"], ["b"], 0.5, seed=0)


def test_build_tokenizers_and_model_from_config(tmp_path):
    path = write(tmp_path, '[data]\npath = "a.tsv"\n[tokenizer]\ntype = "character"\n'
                           '[model]\nembedding_dim = 4\nunits = 8\ncell_type = "gru"\n'
                           'max_decode_length = 7\n[training]\nseed = 3\n'
                           'teacher_forcing = { name = "linear", slope = 0.01 }\n'
                           'teacher_forcing_granularity = "token"\n')
    config = load_config(path)
    source, target = training.build_tokenizers(config, ["abc", "abd"], ["xy", "z"])
    assert source.vocabulary_size == 4 + 4 and target.vocabulary_size == 4 + 3
    model = training.build_model(config, source, target)
    assert model.units == 8 and model.cell_type == "gru" and model.seed == 3
    assert model.max_decode_length == 7 and model.teacher_forcing_granularity == "token"
    assert type(model.teacher_forcing).__name__ == "LinearDecay"
    assert model.source_tokenizer is source and model.target_tokenizer is target
    # build_model does not consume the config's schedule table
    assert config["training"]["teacher_forcing"] == {"name": "linear", "slope": 0.01}


def test_make_strategy():
    import tensorflow as tf

    assert training.make_strategy("default") is tf.distribute.get_strategy()
    assert isinstance(training.make_strategy("one_device"),
                      tf.distribute.OneDeviceStrategy)
    with pytest.raises(ValueError, match="valid choices: default, mirrored, one_device"):
        training.make_strategy("tpu")


def test_local_attention_and_parallel_mode_reach_the_model(tmp_path):
    from keras_seq2seq.config import load_config
    from keras_seq2seq.text import CharacterTokenizer
    from keras_seq2seq.training import build_model

    path = tmp_path / "c.toml"
    path.write_text('[data]\nformat = "tsv"\npath = "x.tsv"\n'
                    '[model]\nlocal_attention = "predictive"\nattention_window = 3\n'
                    'embedding_dim = 8\nunits = 16\n'
                    '[training]\nteacher_forcing_mode = "parallel"\nparallel_passes = 2\n')
    config = load_config(path)
    tokenizer = CharacterTokenizer.from_texts(["abc"])
    model = build_model(config, tokenizer, tokenizer)
    assert model.local_attention == "predictive" and model.attention_window == 3
    assert model.teacher_forcing_mode == "parallel" and model.parallel_passes == 2
    with pytest.raises(ValueError, match="local_attention"):
        load_config(path, overrides={"model.local_attention": "windowed"})


# ------------------------------------------------- the schema follows the model


def test_model_keys_are_the_constructor_settings_with_its_defaults():
    """[model] holds every `Seq2Seq` setting that is neither a [training] key nor
    the tokenizers' business, in the constructor's order, with its defaults."""
    import inspect

    from keras_seq2seq.models.seq2seq import SETTINGS, Seq2Seq

    assert list(config_lib.SCHEMA["model"]) == [
        s for s in SETTINGS
        if s not in config_lib.TRAINING_SETTINGS + config_lib.NOT_CONFIGURED]
    assert set(config_lib.TRAINING_SETTINGS) <= set(config_lib.SCHEMA["training"])
    assert set(config_lib.TRAINING_SETTINGS + config_lib.NOT_CONFIGURED) <= set(SETTINGS)
    parameters = inspect.signature(Seq2Seq.__init__).parameters
    for section, names in (("model", config_lib.SCHEMA["model"]),
                           ("training", config_lib.TRAINING_SETTINGS)):
        for name in names:
            assert config_lib.SCHEMA[section][name].default == parameters[name].default


def test_choices_come_from_the_modules_that_define_them():
    from keras_seq2seq.constants import ATTENTION_NAMES
    from keras_seq2seq.layers.local_attention import LOCAL_MODES
    from keras_seq2seq.layers.rnn import CELL_TYPES
    from keras_seq2seq.models import scheduled_sampling
    from keras_seq2seq.text import TOKENIZERS

    schema = config_lib.SCHEMA
    for key, defined in ((schema["model"]["cell_type"], CELL_TYPES),
                         (schema["model"]["attention"], ATTENTION_NAMES),
                         (schema["model"]["local_attention"], LOCAL_MODES),
                         (schema["training"]["teacher_forcing_granularity"],
                          scheduled_sampling.GRANULARITIES),
                         (schema["training"]["teacher_forcing_feedback"],
                          scheduled_sampling.FEEDBACKS),
                         (schema["training"]["teacher_forcing_mode"],
                          scheduled_sampling.MODES),
                         (schema["tokenizer"]["type"], tuple(TOKENIZERS))):
        assert sorted(key.choices) == sorted(defined)
        if key.default is not None:  # the default is listed first
            assert key.choices[0] == key.default


def test_every_constructor_error_becomes_a_config_error(tmp_path):
    """A combination the schema allows but the model refuses (local-p needs a window
    of at least 1; the schema takes 0 for local-m) is a ConfigError naming the file."""
    path = write(tmp_path, '[data]\npath = "a"\n[model]\nlocal_attention = "predictive"\n'
                           'attention_window = 0\n')
    assert error_of(path) == (
        f"{path}: invalid model settings: Expected a positive int for `window` with "
        "mode='predictive' (the Gaussian has σ = window/2). Received: window=0")
    monotonic = write(tmp_path, '[data]\npath = "a"\n[model]\n'
                                'local_attention = "monotonic"\nattention_window = 0\n',
                      name="monotonic.toml")
    assert load_config(monotonic)["model"]["attention_window"] == 0


# ------------------------------------------------------------ the quality keys


@pytest.mark.parametrize("extra, fragment", [
    ("[training]\nwarmdown = 0.5\n",
     "'training.warmdown' decays over 'training.minutes'; set training.minutes"),
    ("[training]\nvalidation_bleu = 100\n",
     "'training.validation_bleu' needs validation pairs"),
    ('[training]\nkeep = "best"\n',
     'training.keep = "best" picks the epoch by val_bleu; set training.validation_bleu'),
    ('[model]\ntie_embeddings = "all"\n',
     'model.tie_embeddings = "all" shares one embedding between both sides; set '
     'tokenizer.joint = true'),
    ('[model]\ntie_embeddings = "source"\n',
     "invalid value 'source' for 'model.tie_embeddings'; expected true, false or one "
     "of: target, all"),
    ('[training]\nema = 1.0\n', "invalid value 1.0 for 'training.ema'; expected a "
                                "number in [0, 1)"),
])
def test_quality_keys_are_checked_together(tmp_path, extra, fragment):
    message = error_of(write(tmp_path, '[data]\npath = "a.tsv"\n' + extra))
    assert fragment in message


def test_validation_files_come_in_pairs_and_not_with_a_split(tmp_path):
    message = error_of(write(tmp_path, '[data]\npath = "a.tsv"\n'
                                       'validation_source_file = "v.de"\n'))
    assert "'data.validation_source_file' needs 'data.validation_target_file'" in message
    message = error_of(write(tmp_path, '[data]\npath = "a.tsv"\nvalidation_split = 0.1\n'
                                       'validation_source_file = "v.de"\n'
                                       'validation_target_file = "v.en"\n'))
    assert "give 'data.validation_split' or" in message


def test_the_multi30k_config_is_the_translate_corpus_recipe():
    """examples/multi30k_config.toml holds translate_corpus.py's defaults."""
    import sys

    sys.path.insert(0, str(EXAMPLE.parents[1]))
    from examples.translate_corpus import make_parser

    args = make_parser().parse_args(["--data", "x"])
    config = load_config(EXAMPLE.parent / "multi30k_config.toml")
    model, train = config["model"], config["training"]
    assert (model["embedding_dim"], model["units"], model["encoder_units"]) == (
        args.embedding_dim, args.units, args.encoder_units or args.units // 2)
    assert (model["dropout"], model["label_smoothing"]) == (args.dropout,
                                                           args.label_smoothing)
    assert (train["batch_size"], train["minutes"], train["warmdown"],
            train["learning_rate"], train["ema"], train["precision"]) == (
        args.batch_size, args.minutes, args.warmdown, args.learning_rate, args.ema,
        args.precision)
    assert config["tokenizer"]["source_vocabulary_size"] == args.vocabulary_size
    assert config["tokenizer"]["joint"] == args.joint_vocabulary
    assert model["deep_output"] == args.deep_output
    assert model["attentional_activation"] == args.attentional_activation
    assert train["keep"] == "best" and train["validation_bleu"] == 500
    assert config["data"]["validation_source_file"].endswith("multi30k/val.de")
