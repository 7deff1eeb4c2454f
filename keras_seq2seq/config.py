"""Training configurations: TOML files, their schema, and training from them.

`load_config(path, overrides)` reads a TOML file (stdlib `tomllib`), applies
command-line overrides, fills in the defaults and checks every value; a mistake raises
a `ConfigError` (a `ValueError`) whose one-line message names the file, the key, the
value and the valid keys or choices. `train_from_config(config)` then does what
`keras-seq2seq train` does: read the corpus, build the tokenizers and the model, train
with checkpoints, TensorBoard logs and resumption, save the `.keras` model and the
SavedModel export. `examples/train_config.toml` is a complete, commented example.

Schema
------
Five sections, every key optional unless marked *required*::

    [data]
    format            "tsv" (one file, tab-separated columns) or "parallel" (two
                      aligned one-sentence-a-line files). Default "tsv".
    path              tsv: the file (Anki/Tatoeba layout). *Required* with "tsv".
    source_column     tsv: 0-based column of the source sentence. Default 0.
    target_column     tsv: 0-based column of the target sentence. Default 1.
    source_file       parallel: the source file. *Required* with "parallel".
    target_file       parallel: the target file. *Required* with "parallel".
    direction         "forward" (source -> target as read) or "reverse" (swap the two
                      sides, e.g. French -> English from an English-French file).
                      Default "forward".
    on_error          "raise" (stop at a bad line, naming file and line) or "skip"
                      (drop bad lines). Default "raise".
    max_pairs         use only the first N pairs. Default: all.
    validation_split  share of the pairs held out for validation, in [0, 1) (a seeded
                      random subset). Default 0.0 (no validation).
    max_source_length drop pairs whose source has more tokens. Default: no limit.
    max_target_length drop pairs whose target has more tokens + 1. Default: no limit.

    [tokenizer]
    type                    "sentencepiece", "wordpiece", "word" or "character"
                            (both sides). Default "sentencepiece".
    source_vocabulary_size  source vocabulary size, reserved ids included (> 4).
                            Default 8000.
    target_vocabulary_size  target vocabulary size (> 4). Default 8000.
    lowercase               case fold both sides (keeps accents). Default false.

    [model]                 (the `Seq2Seq` constructor arguments)
    embedding_dim 128, units 256, encoder_units (default: units), num_layers 1,
    cell_type "lstm" | "gru", bidirectional false,
    attention "general" | "dot" | "concat", attention_units (default: units),
    attention_depth 1, attention_scale false,
    local_attention "monotonic" | "predictive" (default: global attention),
    attention_window 10 (half-width D of the local window),
    input_feeding false, dropout 0.0,
    tie_embeddings false, label_smoothing 0.0, max_decode_length 100.

    [training]
    batch_size 64, epochs 10, learning_rate 0.001, clipnorm (default: none), seed 0,
    bucketing false (length-bucketed batches),
    teacher_forcing   a ratio in [0, 1] (constant) or a table with the schedule
                      `name` and its parameters, e.g.
                      `teacher_forcing = { name = "inverse_sigmoid", k = 500 }`;
                      names: constant (ratio), linear (slope, start, minimum),
                      exponential (k, minimum), inverse_sigmoid (k, minimum),
                      piecewise (boundaries, values). Default 1.0.
    teacher_forcing_granularity "batch" | "token". Default "batch".
    teacher_forcing_feedback    "argmax" | "sample". Default "argmax".
    teacher_forcing_mode        "sequential" | "parallel". Default "sequential".
    parallel_passes             passes of the parallel mode. Default 1.

    [output]
    dir               the output folder. Default "train_output".
    export            also write the SavedModel export (DIR/export). Default true.
    export_beam_width beam width baked into the export. Default: greedy.
    export_max_length output cap of the export. Default: the model's.
    attention_images  log an attention heat map per epoch to TensorBoard. Default true.

Relative paths in the file are relative to the file's folder; paths given on the
command line (`overrides`) are relative to the current directory.

The output folder
-----------------
`train_from_config` writes into `[output] dir`::

    config.json          the resolved configuration (checked when a run resumes)
    tokenizers/source/   the tokenizers (also inside every .keras file)
    tokenizers/target/
    backup/              keras.callbacks.BackupAndRestore: running the same command
                         again resumes from the last completed epoch; raising
                         `training.epochs` continues a finished run
    checkpoints/latest.keras   keras.callbacks.ModelCheckpoint, every epoch
    logs/                keras.callbacks.TensorBoard (loss, accuracy,
                         teacher_forcing_ratio; logs/attention: heat-map images);
                         only when the `tensorboard` package is installed
    model.keras          the final model (written atomically)
    export/              the SavedModel export (`keras-seq2seq translate --model`)
    interrupted.keras    the model at the moment of a Ctrl-C
"""

import copy
import dataclasses
import importlib.util
import inspect
import io
import json
import math
import os
import textwrap
import tomllib
import warnings

__all__ = [
    "ConfigError",
    "DEFAULT_OUTPUT_DIR",
    "SCHEMA",
    "STRATEGIES",
    "TrainingInterrupted",
    "build_model",
    "build_tokenizers",
    "describe_keys",
    "load_config",
    "load_corpus",
    "make_strategy",
    "parse_override",
    "train_from_config",
]

DEFAULT_OUTPUT_DIR = "train_output"
STRATEGIES = ("default", "mirrored", "one_device")
CONFIG_FILE = "config.json"
COMMAND_LINE = "command line"


class ConfigError(ValueError):
    """A mistake in a configuration: unknown key, bad value, missing key."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C); the model was saved first.

    Attributes:
        model_path: where the interrupted model was saved (`interrupted.keras`).
        backup_dir: the `BackupAndRestore` folder that the next run resumes from.
    """

    def __init__(self, model_path, backup_dir):
        super().__init__(model_path)
        self.model_path = model_path
        self.backup_dir = backup_dir


# ----------------------------------------------------------------------------- schema

_REQUIRED = object()


@dataclasses.dataclass(frozen=True)
class Key:
    """One configuration key: its kind, default and limits.

    `kind` is "int", "float", "bool", "str", "path", "choice" or "teacher_forcing".
    A default of `None` means "optional, absent by default".
    """

    kind: str
    default: object = None
    choices: tuple = ()
    minimum: float = None
    maximum: float = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    help: str = ""

    def expected(self):
        """The accepted values, in words (for error messages and `--help`)."""
        if self.kind == "choice":
            return "one of: " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind in ("str", "path"):
            return "a string" if self.kind == "str" else "a path (string)"
        if self.kind == "teacher_forcing":
            return ("a ratio in [0, 1] or a table such as "
                    "{ name = \"inverse_sigmoid\", k = 500 }")
        noun = "an integer" if self.kind == "int" else "a number"
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            left = "(" if self.exclusive_minimum else "["
            right = ")" if self.exclusive_maximum else "]"
            return f"{noun} in {left}{_fmt(low)}, {_fmt(high)}{right}"
        if low is not None:
            return f"{noun} {'>' if self.exclusive_minimum else '>='} {_fmt(low)}"
        if high is not None:
            return f"{noun} {'<' if self.exclusive_maximum else '<='} {_fmt(high)}"
        return noun


def _fmt(number):
    return str(int(number)) if float(number).is_integer() else str(number)


SCHEMA = {
    "data": {
        "format": Key("choice", "tsv", ("tsv", "parallel"),
                      help="corpus layout: one TSV file or two aligned files"),
        "path": Key("path", help="tsv: the corpus file (required with format tsv)"),
        "source_column": Key("int", 0, minimum=0, help="tsv: source column (0-based)"),
        "target_column": Key("int", 1, minimum=0, help="tsv: target column (0-based)"),
        "source_file": Key("path", help="parallel: source file (required)"),
        "target_file": Key("path", help="parallel: target file (required)"),
        "direction": Key("choice", "forward", ("forward", "reverse"),
                         help="reverse swaps source and target"),
        "on_error": Key("choice", "raise", ("raise", "skip"),
                        help="bad corpus lines: stop or drop them"),
        "max_pairs": Key("int", minimum=1, help="use only the first N pairs"),
        "validation_split": Key("float", 0.0, minimum=0.0, maximum=1.0,
                                exclusive_maximum=True,
                                help="share of pairs held out for validation"),
        "max_source_length": Key("int", minimum=1, help="drop longer sources (tokens)"),
        "max_target_length": Key("int", minimum=2,
                                 help="drop longer targets (tokens + 1)"),
    },
    "tokenizer": {
        "type": Key("choice", "sentencepiece",
                    ("sentencepiece", "wordpiece", "word", "character"),
                    help="tokenizer of both sides"),
        "source_vocabulary_size": Key("int", 8000, minimum=5,
                                      help="source vocabulary size"),
        "target_vocabulary_size": Key("int", 8000, minimum=5,
                                      help="target vocabulary size"),
        "lowercase": Key("bool", False, help="case fold both sides"),
    },
    "model": {
        "embedding_dim": Key("int", 128, minimum=1),
        "units": Key("int", 256, minimum=1, help="decoder RNN size"),
        "encoder_units": Key("int", minimum=1, help="encoder RNN size per direction"),
        "num_layers": Key("int", 1, minimum=1),
        "cell_type": Key("choice", "lstm", ("lstm", "gru")),
        "bidirectional": Key("bool", False),
        "attention": Key("choice", "general", ("general", "dot", "concat"),
                         help="attention score"),
        "attention_units": Key("int", minimum=1),
        "attention_depth": Key("int", 1, minimum=1),
        "attention_scale": Key("bool", False),
        "local_attention": Key("choice", None, ("monotonic", "predictive"),
                               help="local attention (default: global)"),
        "attention_window": Key("int", 10, minimum=0,
                                help="half-width of the local window"),
        "input_feeding": Key("bool", False),
        "dropout": Key("float", 0.0, minimum=0.0, maximum=1.0, exclusive_maximum=True),
        "tie_embeddings": Key("bool", False),
        "label_smoothing": Key("float", 0.0, minimum=0.0, maximum=1.0,
                               exclusive_maximum=True),
        "max_decode_length": Key("int", 100, minimum=1),
    },
    "training": {
        "batch_size": Key("int", 64, minimum=1),
        "epochs": Key("int", 10, minimum=1),
        "learning_rate": Key("float", 1e-3, minimum=0.0, exclusive_minimum=True),
        "clipnorm": Key("float", minimum=0.0, exclusive_minimum=True),
        "seed": Key("int", 0, minimum=0),
        "bucketing": Key("bool", False, help="length-bucketed batches"),
        "teacher_forcing": Key("teacher_forcing", 1.0,
                               help="ratio schedule: a number or {name=..., ...}"),
        "teacher_forcing_granularity": Key("choice", "batch", ("batch", "token")),
        "teacher_forcing_feedback": Key("choice", "argmax", ("argmax", "sample")),
        "teacher_forcing_mode": Key("choice", "sequential", ("sequential", "parallel")),
        "parallel_passes": Key("int", 1, minimum=1),
    },
    "output": {
        "dir": Key("path", DEFAULT_OUTPUT_DIR, help="output folder"),
        "export": Key("bool", True, help="write the SavedModel export"),
        "export_beam_width": Key("int", minimum=1, help="beam width of the export"),
        "export_max_length": Key("int", minimum=1, help="output cap of the export"),
        "attention_images": Key("bool", True,
                                help="attention heat map per epoch in TensorBoard"),
    },
}

# Keys that may differ when a run resumes in the same output folder.
_RESUMABLE_CHANGES = {("training", "epochs")}


def describe_keys():
    """All keys as `section.key  expected value (default ...)` lines, for `--help`."""
    lines = []
    for section, keys in SCHEMA.items():
        for name, key in keys.items():
            default = "" if key.default is None else f" (default {_toml(key.default)})"
            about = f"{key.help}; " if key.help else ""
            lines.append(textwrap.fill(f"{section}.{name}: {about}{key.expected()}{default}",
                                       width=79, initial_indent="  ",
                                       subsequent_indent="      "))
    return "\n".join(lines)


def _toml(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


# ------------------------------------------------------------------------- loading


def parse_override(text):
    """Parses a `SECTION.KEY=VALUE` command-line override.

    The value is read as a TOML value (`64`, `0.5`, `true`, `"gru"`,
    `{ name = "linear", slope = 1e-4 }`); anything that is not valid TOML is taken
    as a plain string, so `data.path=corpus.tsv` needs no quotes.

    Returns:
        `(dotted_key, value)`.

    Raises:
        ConfigError: without `=` or without a section.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or "." not in key:
        raise ConfigError(
            f"invalid override {text!r}: use SECTION.KEY=VALUE, e.g. model.units=256")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def load_config(path, overrides=None):
    """Reads, completes and checks a training configuration.

    Args:
        path: the TOML file (see the module docstring for the schema), or `None`
            to start from the defaults alone.
        overrides: optional mapping `{"section.key": value}` (e.g. from
            `parse_override`), applied after the file; its relative paths are
            relative to the current directory.

    Returns:
        A dict `{section: {key: value}}` with every key of `SCHEMA` (absent optional
        keys are `None`) and absolute paths.

    Raises:
        ConfigError: a file that is not valid TOML, an unknown section or key, a value
            of the wrong type or out of range, a missing required key. The message
            names the file (or "command line"), the key, the value and what is valid.
        FileNotFoundError: the file does not exist.
    """
    raw, base_dir, origin = {}, os.getcwd(), COMMAND_LINE
    if path is not None:
        path = os.fspath(path)
        origin = path
        base_dir = os.path.dirname(os.path.abspath(path))
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: invalid TOML: {error}") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: is a folder, not a TOML file") from None
    config = {section: {} for section in SCHEMA}
    origins = {}
    for section, table in raw.items():
        if section not in SCHEMA:
            where = "key" if not isinstance(table, dict) else "section"
            shown = f"'{section}'" if where == "key" else f"[{section}]"
            raise ConfigError(
                f"{origin}: unknown {where} {shown}; valid sections: "
                f"{', '.join(SCHEMA)}")
        if not isinstance(table, dict):
            raise ConfigError(
                f"{origin}: '{section}' must be a section ([{section}]), got "
                f"{table!r}")
        for name, value in table.items():
            _check_known(section, name, origin)
            config[section][name] = value
            origins[(section, name)] = origin
    for dotted, value in (overrides or {}).items():
        section, _, name = dotted.partition(".")
        if not name or section not in SCHEMA:
            raise ConfigError(
                f"{COMMAND_LINE}: unknown key {dotted!r}; use SECTION.KEY with a "
                f"section of: {', '.join(SCHEMA)}")
        _check_known(section, name, COMMAND_LINE)
        config[section][name] = value
        origins[(section, name)] = COMMAND_LINE

    result = {}
    for section, keys in SCHEMA.items():
        result[section] = {}
        for name, key in keys.items():
            if name in config[section]:
                where = origins[(section, name)]
                value = _check_value(section, name, key, config[section][name], where)
                if key.kind == "path":
                    folder = base_dir if where != COMMAND_LINE else os.getcwd()
                    value = os.path.normpath(
                        os.path.join(folder, os.path.expanduser(value)))
            else:
                value = key.default
                if key.kind == "path" and value is not None:
                    value = os.path.normpath(os.path.join(base_dir, value))
            result[section][name] = value
    _check_combinations(result, origins, origin)
    return result


def _check_known(section, name, origin):
    if name not in SCHEMA[section]:
        raise ConfigError(
            f"{origin}: unknown key '{section}.{name}'; valid keys in [{section}]: "
            f"{', '.join(SCHEMA[section])}")


def _invalid(where, section, name, value, expected):
    return ConfigError(
        f"{where}: invalid value {value!r} for '{section}.{name}'; expected {expected}")


def _check_value(section, name, key, value, where):
    if key.kind == "teacher_forcing":
        return _check_teacher_forcing(section, name, key, value, where)
    if key.kind == "choice":
        if not isinstance(value, str) or value not in key.choices:
            raise ConfigError(
                f"{where}: invalid value {value!r} for '{section}.{name}'; valid "
                f"choices: {', '.join(key.choices)}")
        return value
    if key.kind == "bool":
        if not isinstance(value, bool):
            raise _invalid(where, section, name, value, key.expected())
        return value
    if key.kind in ("str", "path"):
        if not isinstance(value, str) or not value:
            raise _invalid(where, section, name, value, key.expected())
        return value
    if key.kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and math.isfinite(value)
    if ok and key.minimum is not None:
        ok = value > key.minimum if key.exclusive_minimum else value >= key.minimum
    if ok and key.maximum is not None:
        ok = value < key.maximum if key.exclusive_maximum else value <= key.maximum
    if not ok:
        raise _invalid(where, section, name, value, key.expected())
    return value if key.kind == "int" else float(value)


def _check_teacher_forcing(section, name, key, value, where):
    from keras_seq2seq import schedules

    dotted = f"'{section}.{name}'"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0.0 <= value <= 1.0:
            raise _invalid(where, section, name, value, key.expected())
        return float(value)
    if not isinstance(value, dict):
        raise _invalid(where, section, name, value, key.expected())
    params = dict(value)
    schedule = params.pop("name", None)
    if schedule is None:
        raise ConfigError(
            f"{where}: missing 'name' in {dotted}; valid names: "
            f"{', '.join(sorted(schedules.SCHEDULES))}")
    if schedule not in schedules.SCHEDULES:
        raise ConfigError(
            f"{where}: unknown schedule name {schedule!r} for {dotted}; valid names: "
            f"{', '.join(sorted(schedules.SCHEDULES))}")
    signature = inspect.signature(schedules.SCHEDULES[schedule].__init__)
    accepted = [p for p in signature.parameters if p != "self"]
    unknown = [p for p in params if p not in accepted]
    if unknown:
        raise ConfigError(
            f"{where}: unknown parameter '{unknown[0]}' of the {schedule} schedule in "
            f"{dotted}; valid parameters: {', '.join(accepted)}")
    missing = [p for p, spec in signature.parameters.items()
               if p != "self" and spec.default is inspect.Parameter.empty
               and p not in params]
    if missing:
        raise ConfigError(
            f"{where}: the {schedule} schedule in {dotted} needs "
            f"{', '.join(missing)}; e.g. {{ name = \"{schedule}\", "
            f"{missing[0]} = ... }}")
    try:
        schedules.get(value)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{where}: invalid {dotted}: {error}") from None
    return dict(value)


def _check_combinations(config, origins, origin):
    data = config["data"]

    def where(section, name):
        return origins.get((section, name), origin)

    if data["format"] == "tsv":
        needed, unused = ["path"], ["source_file", "target_file"]
    else:
        needed, unused = ["source_file", "target_file"], ["path"]
        for name in ("source_column", "target_column"):
            if ("data", name) in origins:
                unused.append(name)
    for name in needed:
        if data[name] is None:
            raise ConfigError(
                f"{where('data', 'format')}: missing key 'data.{name}' (required with "
                f"data.format = \"{data['format']}\")")
    for name in unused:
        if ("data", name) in origins:
            raise ConfigError(
                f"{where('data', name)}: 'data.{name}' is not used with data.format = "
                f"\"{data['format']}\"; remove it or set data.format")
    if data["format"] == "tsv" and data["source_column"] == data["target_column"]:
        raise ConfigError(
            f"{where('data', 'target_column')}: 'data.source_column' and "
            f"'data.target_column' are both {data['source_column']}; they must differ")
    model = config["model"]
    if model["attention"] == "dot":
        encoder_units = model["encoder_units"] or model["units"]
        memory = encoder_units * (2 if model["bidirectional"] else 1)
        if memory != model["units"]:
            raise ConfigError(
                f"{where('model', 'attention')}: model.attention = \"dot\" needs "
                f"encoder outputs of model.units = {model['units']} features, but "
                f"they have {memory} (encoder_units {encoder_units}, bidirectional "
                f"{str(model['bidirectional']).lower()}); use \"general\" or "
                "\"concat\", or make the sizes equal")


# ------------------------------------------------------------------ building blocks


def load_corpus(config):
    """Reads the corpus of `config["data"]`.

    Returns:
        A `keras_seq2seq.text.Corpus` (sources and targets in the training
        direction, cut to `max_pairs`).
    """
    from keras_seq2seq.text import Corpus, read_parallel_files, read_tsv_pairs

    data = config["data"]
    if data["format"] == "tsv":
        corpus = read_tsv_pairs(data["path"], source_column=data["source_column"],
                                target_column=data["target_column"],
                                on_error=data["on_error"])
    else:
        corpus = read_parallel_files(data["source_file"], data["target_file"],
                                     on_error=data["on_error"])
    if data["direction"] == "reverse":
        corpus = corpus.swapped()
    if data["max_pairs"] is not None and len(corpus) > data["max_pairs"]:
        n = data["max_pairs"]
        corpus = Corpus(corpus.sources[:n], corpus.targets[:n], corpus.skipped)
    return corpus


def split_validation(sources, targets, fraction, seed):
    """A seeded random split: `((train_sources, train_targets), (val_s, val_t))`."""
    import numpy as np

    n = len(sources)
    count = int(round(n * fraction))
    if fraction > 0 and count == 0:
        count = 1
    if count >= n:
        raise ConfigError(
            f"data.validation_split = {fraction} leaves no training pair out of {n}")
    order = np.random.default_rng(seed).permutation(n)
    held = set(order[:count].tolist())
    train = ([s for i, s in enumerate(sources) if i not in held],
             [t for i, t in enumerate(targets) if i not in held])
    validation = ([sources[i] for i in sorted(held)], [targets[i] for i in sorted(held)])
    return train, validation


def build_tokenizers(config, sources, targets):
    """Builds (trains) the source and target tokenizers of `config["tokenizer"]`."""
    from keras_seq2seq.text import TOKENIZERS

    settings = config["tokenizer"]
    cls = TOKENIZERS[settings["type"]]
    extra = {"seed": config["training"]["seed"]} if settings["type"] == "sentencepiece" else {}
    source = cls.build(sources, name="source_tokenizer",
                       vocabulary_size=settings["source_vocabulary_size"],
                       lowercase=settings["lowercase"], **extra)
    target = cls.build(targets, name="target_tokenizer",
                       vocabulary_size=settings["target_vocabulary_size"],
                       lowercase=settings["lowercase"], **extra)
    return source, target


def build_model(config, source_tokenizer, target_tokenizer):
    """The `Seq2Seq` of `config["model"]` and `config["training"]` (uncompiled).

    Call it inside `strategy.scope()` to train with a `tf.distribute` strategy.
    """
    from keras_seq2seq.models import Seq2Seq

    model, training = config["model"], config["training"]
    return Seq2Seq(
        source_tokenizer.vocabulary_size, target_tokenizer.vocabulary_size,
        teacher_forcing=copy.deepcopy(training["teacher_forcing"]),
        teacher_forcing_granularity=training["teacher_forcing_granularity"],
        teacher_forcing_feedback=training["teacher_forcing_feedback"],
        teacher_forcing_mode=training["teacher_forcing_mode"],
        parallel_passes=training["parallel_passes"],
        seed=training["seed"], source_tokenizer=source_tokenizer,
        target_tokenizer=target_tokenizer, name="seq2seq", **model)


def make_strategy(name="default"):
    """A `tf.distribute` strategy: "default", "mirrored" (all local GPUs) or
    "one_device" (the first GPU, else the CPU)."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    raise ValueError(f"invalid strategy {name!r}; valid choices: {', '.join(STRATEGIES)}")


def _attention_image_callback(log_dir, text):
    import keras
    import tensorflow as tf

    from keras_seq2seq import plotting
    from keras_seq2seq.demo import attention_example

    class AttentionImages(keras.callbacks.Callback):
        """Logs the attention heat map of one sentence per epoch (`tf.summary.image`)."""

        def __init__(self):
            super().__init__()
            self.writer = None

        def on_epoch_end(self, epoch, logs=None):
            if self.writer is None:
                self.writer = tf.summary.create_file_writer(log_dir)
            translation, sources, targets, weights = attention_example(self.model, text)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # glyphs missing from the font
                figure = plotting.plot_attention(
                    weights, sources, targets, title=f"{text} → {translation}")
                buffer = io.BytesIO()
                figure.savefig(buffer, format="png", dpi=72)
            image = tf.image.decode_png(buffer.getvalue(), channels=4)[None]
            with self.writer.as_default():
                tf.summary.image("attention", image, step=epoch)
            self.writer.flush()

        def on_train_end(self, logs=None):
            if self.writer is not None:
                self.writer.close()

    return AttentionImages()


def _comparable(config):
    return {section: {k: v for k, v in values.items()
                      if (section, k) not in _RESUMABLE_CHANGES}
            for section, values in config.items() if section != "output"}


def _check_same_run(config, path):
    with open(path, encoding="utf-8") as f:
        previous = json.load(f)
    old, new = _comparable(previous), _comparable(config)
    changed = [f"{section}.{key}: {old.get(section, {}).get(key)!r} -> {value!r}"
               for section, values in new.items() for key, value in values.items()
               if old.get(section, {}).get(key) != value]
    if changed:
        folder = os.path.dirname(path)
        raise ConfigError(
            f"{folder} holds a run with another configuration ({'; '.join(changed)}); "
            "use another output folder, or the same settings to resume (only "
            "training.epochs may change)")


def _backup_epoch(backup_dir):
    path = os.path.join(backup_dir, "training_metadata.json")
    try:
        with open(path, encoding="utf-8") as f:
            return int(json.load(f)["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def train_from_config(config, strategy="default", callbacks=None, verbose="auto",
                      log=print):
    """Trains a model as `keras-seq2seq train` does (see the module docstring).

    Running it again on the same output folder resumes from the last completed epoch
    (`keras.callbacks.BackupAndRestore` in `OUTPUT/backup`, kept after a finished
    run so that a larger `training.epochs` continues it).

    Args:
        config: a dict from `load_config`.
        strategy: "default", "mirrored", "one_device" or a `tf.distribute.Strategy`;
            the model is built and compiled in its scope.
        callbacks: more Keras callbacks for `fit`.
        verbose: `fit` verbosity.
        log: function that prints progress lines.

    Returns:
        A dict: `model` (the trained `Seq2Seq`), `model_path`, `export_path`
        (`None` without export), `output_dir`, `initial_epoch` (epochs already done
        when the run started), `epochs`, `history` (the new epochs' logs).

    Raises:
        TrainingInterrupted: on Ctrl-C, after saving `OUTPUT/interrupted.keras`.
        ConfigError: the output folder holds a run with another configuration.
        keras_seq2seq.text.CorpusError: a bad corpus line.
    """
    import keras

    from keras_seq2seq import saving
    from keras_seq2seq.text import Tokenizer, make_dataset

    out = config["output"]["dir"]
    training = config["training"]
    os.makedirs(out, exist_ok=True)
    config_path = os.path.join(out, CONFIG_FILE)
    if os.path.exists(config_path):
        _check_same_run(config, config_path)
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)

    keras.utils.set_random_seed(training["seed"])
    corpus = load_corpus(config)
    skipped = f", {corpus.skipped} bad lines skipped" if corpus.skipped else ""
    log(f"Corpus: {len(corpus)} sentence pairs{skipped}.")
    (train_sources, train_targets), validation = (
        (corpus.sources, corpus.targets), None)
    if config["data"]["validation_split"] > 0:
        (train_sources, train_targets), validation = split_validation(
            corpus.sources, corpus.targets, config["data"]["validation_split"],
            training["seed"])
        log(f"Validation: {len(validation[0])} pairs held out.")

    tokenizer_dirs = [os.path.join(out, "tokenizers", side) for side in ("source", "target")]
    if all(os.path.exists(os.path.join(d, "config.json")) for d in tokenizer_dirs):
        source_tokenizer, target_tokenizer = (Tokenizer.load(d) for d in tokenizer_dirs)
        log(f"Tokenizers: reused from {os.path.join(out, 'tokenizers')}.")
    else:
        source_tokenizer, target_tokenizer = build_tokenizers(
            config, train_sources, train_targets)
        for tokenizer, folder in zip((source_tokenizer, target_tokenizer), tokenizer_dirs):
            tokenizer.save(folder)
    log(f"Tokenizers ({config['tokenizer']['type']}): "
        f"{source_tokenizer.vocabulary_size} source and "
        f"{target_tokenizer.vocabulary_size} target tokens.")

    data = config["data"]
    dataset_options = dict(max_source_length=data["max_source_length"],
                           max_target_length=data["max_target_length"])
    train_data, stats = make_dataset(
        train_sources, train_targets, source_tokenizer, target_tokenizer,
        batch_size=training["batch_size"], seed=training["seed"],
        bucket_boundaries="auto" if training["bucketing"] else None,
        return_stats=True, **dataset_options)
    if stats.kept < stats.total:
        log(f"Training pairs: {stats.kept} of {stats.total} kept "
            f"({stats.empty_source} empty sources, {stats.filtered} too long).")
    validation_data = None
    if validation is not None:
        validation_data = make_dataset(*validation, source_tokenizer, target_tokenizer,
                                       batch_size=training["batch_size"], shuffle=False,
                                       **dataset_options)

    if isinstance(strategy, str):
        strategy = make_strategy(strategy)
    with strategy.scope():
        model = build_model(config, source_tokenizer, target_tokenizer)
        optimizer_options = {}
        if training["clipnorm"] is not None:
            optimizer_options["clipnorm"] = training["clipnorm"]
        model.compile(optimizer=keras.optimizers.Adam(training["learning_rate"],
                                                      **optimizer_options))

    backup_dir = os.path.join(out, "backup")
    done = _backup_epoch(backup_dir)
    epochs = training["epochs"]
    if done is not None:
        if done >= epochs:
            log(f"Resuming from {backup_dir}: {done} of {epochs} epochs already done, "
                "nothing left to train (raise training.epochs to train more).")
        else:
            log(f"Resuming from {backup_dir}: {done} of {epochs} epochs done, "
                f"training epochs {done + 1} to {epochs}.")
    os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)
    all_callbacks = [
        keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True,
                                         delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(os.path.join(out, "checkpoints", "latest.keras")),
    ]
    if importlib.util.find_spec("tensorboard") is None:
        log("TensorBoard logs skipped: the tensorboard package is not installed "
            "(pip install tensorboard).")
    else:
        all_callbacks.append(keras.callbacks.TensorBoard(os.path.join(out, "logs")))
        if config["output"]["attention_images"]:
            sample = (validation or (train_sources, train_targets))[0][0]
            all_callbacks.append(_attention_image_callback(
                os.path.join(out, "logs", "attention"), sample))
    all_callbacks.extend(callbacks or [])
    try:
        with warnings.catch_warnings():
            # make_dataset shuffles; Keras warns that fit's own shuffle is ignored.
            warnings.filterwarnings("ignore", message=".*shuffle=True. was passed")
            history = model.fit(train_data, validation_data=validation_data,
                                epochs=epochs, callbacks=all_callbacks, verbose=verbose)
    except KeyboardInterrupt:
        path = os.path.join(out, "interrupted.keras")
        saving.save_model(model, path, overwrite=True)
        raise TrainingInterrupted(path, backup_dir) from None

    model_path = os.path.join(out, "model.keras")
    saving.save_model(model, model_path, overwrite=True)
    log(f"Model: {model_path}")
    export_path = None
    if config["output"]["export"]:
        from keras_seq2seq import export

        export_path = os.path.join(out, "export")
        export.export_translator(model, export_path,
                                 beam_width=config["output"]["export_beam_width"],
                                 max_length=config["output"]["export_max_length"],
                                 overwrite=True)
        log(f"SavedModel export: {export_path}")
    return {
        "model": model,
        "model_path": model_path,
        "export_path": export_path,
        "output_dir": out,
        "initial_epoch": done or 0,
        "epochs": epochs,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }
