"""Training configurations: TOML files, their schema, their checks.

`load_config(path, overrides)` reads a TOML file (stdlib `tomllib`), applies
command-line overrides, fills in the defaults and checks every value; a mistake raises
a `ConfigError` (a `ValueError`) whose one-line message names the file, the key, the
value and the valid keys or choices. `keras_seq2seq.training.train_from_config` then
does what `keras-seq2seq train` does with it. `examples/train_config.toml` is a
complete, commented example; `describe_keys()` (and `keras-seq2seq train --help`)
lists every key with what it accepts and its default. (Over 450 lines: the schema
of five sections with a check per kind of value, each message naming its file and
key; it has nothing else in it.)

Schema
------
Five sections: `[data]` (the corpus: one TSV file or two aligned files, its
direction, bad lines, a validation split, length limits), `[tokenizer]` (the
tokenizer type and vocabulary sizes of both sides), `[model]`, `[training]` (batch
size, epochs, Adam's learning rate and clipping, bucketing, and the teacher-forcing
settings) and `[output]` (the folder, the export, the attention images). `SCHEMA`
holds every key with its kind, limits and default; `describe_keys()` (and
`keras-seq2seq train --help`) prints them. Every key is optional except `data.path`
(format "tsv") or `data.source_file` and `data.target_file` (format "parallel").

`[model]` and the model's keys of `[training]` (`TRAINING_SETTINGS`: the seed and the
teacher-forcing schedule, granularity, feedback, mode and passes) are the `Seq2Seq`
constructor arguments (`keras_seq2seq.models.seq2seq.SETTINGS`) but the vocabulary
sizes and the tokenizers (`NOT_CONFIGURED`). Their defaults are the constructor's and
their choices those of the modules that define them (`layers.rnn.CELL_TYPES`,
`constants.ATTENTION_NAMES`, `models.scheduled_sampling.GRANULARITIES`, ...), the
default listed first; the constructor itself checks how they combine (e.g. "dot"
attention needs equal sizes), and its message becomes the `ConfigError`.
`training.teacher_forcing` is a ratio in [0, 1] or a table with a schedule `name`
and its parameters, e.g. `{ name = "inverse_sigmoid", k = 500 }` (names:
`keras_seq2seq.schedules.SCHEDULES`).

Relative paths in the file are relative to the file's folder; paths given on the
command line (`overrides`) are relative to the current directory.
"""

import copy
import dataclasses
import inspect
import json
import math
import os
import textwrap
import tomllib

from keras_seq2seq.constants import ATTENTION_NAMES, RESERVED_TOKENS
from keras_seq2seq.layers.decoder import ATTENTIONAL_ACTIVATIONS
from keras_seq2seq.layers.local_attention import LOCAL_MODES
from keras_seq2seq.layers.rnn import CELL_TYPES
from keras_seq2seq.models.scheduled_sampling import FEEDBACKS, GRANULARITIES, MODES
from keras_seq2seq.models.seq2seq import SETTINGS, Seq2Seq
from keras_seq2seq.precision import PRECISIONS
from keras_seq2seq.text.tokenizers import TOKENIZERS

__all__ = [
    "COMMAND_LINE",
    "DEFAULT_OUTPUT_DIR",
    "NOT_CONFIGURED",
    "SCHEMA",
    "TRAINING_SETTINGS",
    "ConfigError",
    "Key",
    "describe_keys",
    "load_config",
    "model_arguments",
    "parse_override",
]

DEFAULT_OUTPUT_DIR = "train_output"
COMMAND_LINE = "command line"

TRAINING_SETTINGS = ("seed", "teacher_forcing", "teacher_forcing_granularity",
                     "teacher_forcing_feedback", "teacher_forcing_mode",
                     "parallel_passes")
"""The `Seq2Seq` constructor arguments that are `[training]` keys."""

NOT_CONFIGURED = ("source_vocabulary_size", "target_vocabulary_size",
                  "source_tokenizer", "target_tokenizer")
"""The constructor arguments that come from the tokenizers, not the configuration;
every other one of `SETTINGS` is a `[model]` key or one of `TRAINING_SETTINGS`."""


class ConfigError(ValueError):
    """A mistake in a configuration: unknown key, bad value, missing key."""


# ----------------------------------------------------------------------------- schema


@dataclasses.dataclass(frozen=True)
class Key:
    """One configuration key: its kind, default and limits.

    `kind` is "int", "float", "bool", "str", "path", "choice", "bool_or_choice"
    (true, false or one of `choices`) or "teacher_forcing".
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
        if self.kind == "bool_or_choice":
            return "true, false or one of: " + ", ".join(self.choices)
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


_CONSTRUCTOR = inspect.signature(Seq2Seq.__init__).parameters


def _setting(name, kind, choices=(), **limits):
    """The `Key` of the constructor argument `name`: the constructor's default, and
    `choices` (as the module that defines them lists them) with the default first."""
    default = _CONSTRUCTOR[name].default
    if choices and kind == "choice":
        choices = tuple(dict.fromkeys(c for c in (default, *choices) if c is not None))
    return Key(kind, default, choices, **limits)


_RATE = dict(minimum=0.0, maximum=1.0, exclusive_maximum=True)

_MODEL_KEYS = {
    "embedding_dim": dict(kind="int", minimum=1),
    "units": dict(kind="int", minimum=1, help="decoder RNN size"),
    "encoder_units": dict(kind="int", minimum=1, help="encoder RNN size per direction"),
    "num_layers": dict(kind="int", minimum=1),
    "cell_type": dict(kind="choice", choices=CELL_TYPES),
    "bidirectional": dict(kind="bool"),
    "attention": dict(kind="choice", choices=ATTENTION_NAMES, help="attention score"),
    "attention_units": dict(kind="int", minimum=1),
    "attention_depth": dict(kind="int", minimum=1),
    "attention_scale": dict(kind="bool"),
    "local_attention": dict(kind="choice", choices=LOCAL_MODES,
                            help="local attention (default: global)"),
    "attention_window": dict(kind="int", minimum=0,
                             help="half-width of the local window"),
    "input_feeding": dict(kind="bool"),
    "deep_output": dict(kind="bool", help="the attentional layer also sees the "
                                          "embedded previous token"),
    "attentional_activation": dict(kind="choice", choices=ATTENTIONAL_ACTIVATIONS,
                                   help="what the attentional layer h̃ = W_c[c; h] "
                                        "passes through (linear: no tanh)"),
    "dropout": dict(kind="float", **_RATE),
    "tie_embeddings": dict(kind="bool_or_choice", choices=("target", "all"),
                           help="tie the output projection to the target embedding "
                                "(true or \"target\"), and the source embedding too "
                                "(\"all\": needs tokenizer.joint)"),
    "label_smoothing": dict(kind="float", **_RATE),
    "max_decode_length": dict(kind="int", minimum=1),
}
"""How TOML values of the `[model]` keys are checked; their order, defaults and
choices come from the constructor and the modules that define them."""

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
        "validation_split": Key("float", 0.0, **_RATE,
                                help="share of pairs held out for validation"),
        "max_source_length": Key("int", minimum=1, help="drop longer sources (tokens)"),
        "max_target_length": Key("int", minimum=2,
                                 help="drop longer targets (tokens + 1)"),
        "validation_source_file": Key("path", help="validation pairs from two aligned "
                                                   "files (instead of validation_split)"),
        "validation_target_file": Key("path", help="the validation targets"),
    },
    "tokenizer": {
        "type": Key("choice", "sentencepiece", tuple(TOKENIZERS),
                    help="tokenizer of both sides"),
        "source_vocabulary_size": Key("int", 8000, minimum=len(RESERVED_TOKENS) + 1,
                                      help="source vocabulary size"),
        "target_vocabulary_size": Key("int", 8000, minimum=len(RESERVED_TOKENS) + 1,
                                      help="target vocabulary size"),
        "lowercase": Key("bool", False, help="case fold both sides"),
        "joint": Key("bool", False, help="one tokenizer trained on both sides' text "
                                         "(source_vocabulary_size tokens)"),
    },
    "model": {name: _setting(name, **_MODEL_KEYS[name])
              for name in SETTINGS if name in _MODEL_KEYS},
    "training": {
        "batch_size": Key("int", 64, minimum=1),
        "epochs": Key("int", 10, minimum=1),
        "learning_rate": Key("float", 1e-3, minimum=0.0, exclusive_minimum=True),
        "clipnorm": Key("float", minimum=0.0, exclusive_minimum=True),
        "minutes": Key("float", minimum=0.0, exclusive_minimum=True,
                       help="wall-clock training budget of this run (TimeBudget)"),
        "warmdown": Key("float", 0.0, minimum=0.0, maximum=1.0,
                        help="decay the learning rate linearly to 5% over this last "
                             "fraction of the minutes (TimeWarmdown; needs minutes)"),
        "ema": Key("float", 0.0, minimum=0.0, maximum=1.0, exclusive_maximum=True,
                   help="decay of a moving average of the weights that is validated, "
                        "checkpointed and saved (WeightAverage); 0: off"),
        "token_budget": Key("int", minimum=1, help="tokens per batch, per length "
                                                    "bucket, instead of batch_size pairs"),
        "validation_bleu": Key("int", 0, minimum=0,
                               help="validation sentences translated for val_bleu "
                                    "and val_chrf each epoch; 0: none"),
        "keep": Key("choice", "last", ("last", "best"),
                    help="the model saved and exported: the last epoch's, or the "
                         "best by val_bleu (needs validation_bleu)"),
        "seed": _setting("seed", "int", minimum=0),
        "bucketing": Key("bool", False, help="length-bucketed batches"),
        "precision": Key("choice", "float32", PRECISIONS,
                         help="dtype policy; auto: mixed_bfloat16 on a CPU with native "
                              "bfloat16, else float32"),
        "teacher_forcing": _setting("teacher_forcing", "teacher_forcing",
                                    help="ratio schedule: a number or {name=..., ...}"),
        "teacher_forcing_granularity": _setting("teacher_forcing_granularity",
                                                "choice", GRANULARITIES),
        "teacher_forcing_feedback": _setting("teacher_forcing_feedback", "choice",
                                             FEEDBACKS),
        "teacher_forcing_mode": _setting("teacher_forcing_mode", "choice", MODES),
        "parallel_passes": _setting("parallel_passes", "int", minimum=1),
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


def describe_keys():
    """All keys as `section.key  expected value (default ...)` lines, for `--help`.

    `keras-seq2seq train --help` prints a generated copy, `cli.config_keys.TEXT`
    (no TensorFlow import); after changing a key, run
    `python -m keras_seq2seq.cli.config_keys`.
    """
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
    _check_model(result, origins, origin)
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
    if key.kind == "bool_or_choice":
        if not isinstance(value, bool) and value not in key.choices:
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
    files = [data["validation_source_file"], data["validation_target_file"]]
    if (files[0] is None) != (files[1] is None):
        given = "validation_source_file" if files[0] is not None else "validation_target_file"
        missing = "validation_target_file" if files[0] is not None else "validation_source_file"
        raise ConfigError(f"{where('data', given)}: 'data.{given}' needs 'data.{missing}'")
    if files[0] is not None and data["validation_split"] > 0:
        raise ConfigError(
            f"{where('data', 'validation_split')}: give 'data.validation_split' or "
            "'data.validation_source_file'/'validation_target_file', not both")
    training = config["training"]
    has_validation = files[0] is not None or data["validation_split"] > 0
    rules = [
        (training["warmdown"] > 0 and training["minutes"] is None, ("training", "warmdown"),
         "'training.warmdown' decays over 'training.minutes'; set training.minutes"),
        (training["validation_bleu"] > 0 and not has_validation,
         ("training", "validation_bleu"),
         "'training.validation_bleu' needs validation pairs; set data.validation_split "
         "or data.validation_source_file and data.validation_target_file"),
        (training["keep"] == "best" and training["validation_bleu"] == 0,
         ("training", "keep"),
         "training.keep = \"best\" picks the epoch by val_bleu; set "
         "training.validation_bleu (e.g. 500)"),
        (config["model"]["tie_embeddings"] == "all" and not config["tokenizer"]["joint"],
         ("model", "tie_embeddings"),
         "model.tie_embeddings = \"all\" shares one embedding between both sides; set "
         "tokenizer.joint = true"),
    ]
    for broken, (section, name), message in rules:
        if broken:
            raise ConfigError(f"{where(section, name)}: {message}")


def model_arguments(config):
    """The `Seq2Seq` keyword arguments of a loaded configuration.

    `[model]` and the constructor's keys of `[training]` (`TRAINING_SETTINGS`,
    copied, so the model does not consume the configuration's schedule table); the
    vocabulary sizes and tokenizers are the caller's.
    """
    arguments = dict(config["model"])
    arguments.update({name: copy.deepcopy(config["training"][name])
                      for name in TRAINING_SETTINGS})
    return arguments


def _check_model(config, origins, origin):
    """The constructor's own checks (cross-field rules included) as a `ConfigError`.

    `Seq2Seq.check_settings` runs them without building a model; nothing to check
    when every setting is the constructor's default.
    """
    given = [key for key in origins if key[0] == "model"
             or (key[0] == "training" and key[1] in TRAINING_SETTINGS)]
    if not given:
        return
    size = len(RESERVED_TOKENS) + 1
    try:
        Seq2Seq.check_settings(size, size, **model_arguments(config))
    except ValueError as error:
        where = ", ".join(dict.fromkeys(origins.get(key, origin) for key in given))
        raise ConfigError(f"{where}: invalid model settings: {error}") from None
