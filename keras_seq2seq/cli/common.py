"""What the `keras-seq2seq` commands share: errors, argument types, model loading.

* `CLIError` and `Parser`: a user mistake prints one line
  `keras-seq2seq: error: <cause>` on stderr and exits with status 2;
* argument types (`positive_int`, `non_negative_int`, `positive_float`,
  `non_negative_float`, or `number_type` for another range) whose messages say
  what was expected;
* `add_command`, `model_argument`, `beam_argument`: the pieces of the subparsers;
* `load_translator` (a `.keras` model or a SavedModel export behind one interface)
  and `load_keras` (a `.keras` `Seq2Seq`), which turn bad paths into `CLIError`s;
* `draw_attention`: `plotting.plot_attention` with a one-line font hint.
"""

import argparse
import os
import sys
import textwrap
import warnings

PROG = "keras-seq2seq"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A user mistake found by the command line itself (printed, exit status 2)."""


class Parser(argparse.ArgumentParser):
    """Argument errors as one line `<name>: error: ...`, exit status 2.

    `name` is the program named at the start of the line (`keras-seq2seq`);
    a subclass may set another.
    """

    name = PROG

    def error(self, message):
        hint = f" (see `{self.prog} --help`)"
        self.exit(EXIT_USAGE, f"{self.name}: error: {message}{hint}\n")


def print_error(error, name=PROG):
    """Prints `error` as one line `<name>: error: <cause>` on stderr."""
    if isinstance(error, OSError) and error.filename and error.strerror:
        message = f"{error.filename}: {error.strerror}"
    else:
        message = str(error) or type(error).__name__
    print(f"{name}: error: {' '.join(message.split())}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------- arguments


def number_type(convert, accept, expected):
    """An `argparse` type: `convert(text)` (`int` or `float`) if `accept(value)`.

    Anything else raises `argparse.ArgumentTypeError("invalid value '...':
    expected <expected>")`; NaN is refused by every comparison.
    """
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: expected {expected}")
        return value

    return parse


positive_int = number_type(int, lambda value: value >= 1, "a positive integer")
non_negative_int = number_type(int, lambda value: value >= 0, "an integer >= 0")
positive_float = number_type(float, lambda value: value > 0, "a positive number")
non_negative_float = number_type(float, lambda value: value >= 0, "a number >= 0")


def add_command(commands, name, help_text, description=None, epilog=None):
    """A subcommand's parser, its description wrapped at 79 columns."""
    text = textwrap.fill(description or help_text, width=79)
    return commands.add_parser(
        name, help=help_text, description=text, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter)


def model_argument(parser):
    parser.add_argument("--model", required=True, metavar="PATH",
                        help="a .keras model, or a SavedModel folder written by "
                             f"`{PROG} export` (required)")


def keras_model_and_output_arguments(parser, model_help, output_metavar, output_help,
                                     beam_help):
    """`--model M.keras` and `--output` (both required), and `--beam N`."""
    parser.add_argument("--model", required=True, metavar="M.keras",
                        help=f"{model_help} (required)")
    parser.add_argument("--output", required=True, metavar=output_metavar,
                        help=f"{output_help} (required)")
    parser.add_argument("--beam", type=positive_int, metavar="N",
                        help=f"{beam_help} (default: greedy decoding)")


def beam_argument(parser):
    """`--beam N` and `--length-penalty ALPHA` (checked by `load_translator`)."""
    parser.add_argument("--beam", type=positive_int, metavar="N",
                        help="beam search of width N (default: greedy decoding); a "
                             "SavedModel decodes as it was exported")
    parser.add_argument("--length-penalty", type=non_negative_float, metavar="ALPHA",
                        help="GNMT length penalty alpha of the beam search (needs "
                             "--beam and a .keras model; default 0)")


def decoding_options(beam, length_penalty=None):
    """`translate` / `translate_full` keyword arguments: greedy, or beam of `beam`
    (with `length_penalty`, if given)."""
    if not beam:
        return {}
    options = {"method": "beam", "beam_width": beam}
    if length_penalty:
        options["length_penalty"] = length_penalty
    return options


# ------------------------------------------------------------------- model loading


class KerasTranslator:
    """A `.keras` `Seq2Seq` behind the interface of an exported translator."""

    is_keras = True

    def __init__(self, model, path, length_penalty=None):
        self.model = model
        self.path = path
        self.length_penalty = length_penalty

    def translate(self, texts, beam=None):
        return self.model.translate(texts, **decoding_options(beam, self.length_penalty))

    def n_best(self, texts, k, beam=None):
        """`model.n_best` with a beam of max(`beam`, `k`)."""
        options = {"length_penalty": self.length_penalty} if self.length_penalty else {}
        return self.model.n_best(texts, k, beam_width=max(beam or 1, k), **options)

    def score(self, sources, targets, length_normalize=False):
        """`[(score, log_prob, tokens, token_log_probs)]` of each pair."""
        return [(found.score, found.log_prob, found.tokens,
                 found.token_log_probs.tolist())
                for found in self.model.score(sources, targets,
                                              length_normalize=length_normalize)]


class SavedModelTranslator:
    """A SavedModel export (`export.load_translator`); it decodes as exported."""

    is_keras = False

    def __init__(self, translator, path):
        self.translator = translator
        self.path = path
        self.beam_width = translator.metadata.get("beam_width")

    def translate(self, texts, beam=None):
        del beam  # checked in load_translator
        return self.translator.translate(list(texts))

    def n_best(self, texts, k, beam=None):
        """The export's n-best lists, cut to `k` (checked in `load_translator`)."""
        del beam
        return [hypotheses[:k] for hypotheses in self.translator.n_best(list(texts))]

    def score(self, sources, targets, length_normalize=False):
        """`[(score, log_prob, tokens, token_log_probs)]` of each pair."""
        found = self.translator.score(list(sources), list(targets))
        rows = []
        for row, length in enumerate(found["lengths"].tolist()):
            log_prob = float(found["log_probs"][row])
            rows.append((log_prob / length if length_normalize else log_prob, log_prob,
                         [t.decode("utf-8") for t in found["target_tokens"][row, :length]],
                         found["token_log_probs"][row, :length].tolist()))
        return rows


def load_translator(path, beam=None, keras_only=None, n_best=None, length_penalty=None):
    """Loads a `.keras` model or a SavedModel export (user errors: `CLIError`).

    Args:
        path: the `.keras` file or the SavedModel folder.
        beam: the beam width asked for; a SavedModel must have been exported so.
        keras_only: the flag that needs a `.keras` model (e.g. "--plot"), if any.
        n_best: the n-best size asked for; an export must have that many.
        length_penalty: the beam search's GNMT alpha (needs `beam` or `n_best`, and
            a `.keras` model: an export keeps the one it was exported with).
    """
    if not os.path.exists(path):
        raise CLIError(f"no model at {path}: expected a .keras file or a SavedModel "
                       "folder")
    if length_penalty is not None and not (beam or n_best):
        raise CLIError("--length-penalty is the beam search's; give --beam N too")
    if os.path.isdir(path):
        if length_penalty is not None:
            keras_only = "--length-penalty"  # an export decodes as it was exported
        if keras_only:
            raise CLIError(f"{keras_only} needs a .keras model; {path} is a folder "
                           "(a SavedModel export?)")
        from keras_seq2seq import export

        translator = SavedModelTranslator(export.load_translator(path), path)
        exported = translator.beam_width
        if beam is not None and beam != exported:
            how = f"beam search of width {exported}" if exported else "greedy decoding"
            raise CLIError(
                f"{path} is a SavedModel export fixed to {how}; --beam {beam} needs "
                f"the .keras model, or `{PROG} export --beam {beam}`")
        lists = translator.translator.metadata.get("n_best")
        if n_best is not None and not (lists and n_best <= lists):
            has = (f"returns {lists} hypotheses per sentence" if lists else
                   "has no n-best endpoint (a greedy export, or an older one)")
            raise CLIError(
                f"{path} {has}; --n-best {n_best} needs `{PROG} export --beam N "
                f"--n-best {n_best}` (N >= {n_best}), or the .keras model")
        return translator
    return KerasTranslator(load_keras(path), path, length_penalty)


def load_keras(path, need_tokenizers=True):
    """Loads a `.keras` file holding a `Seq2Seq` (with its tokenizers)."""
    if not os.path.exists(path):
        raise CLIError(f"no model at {path}: expected a .keras file")
    if os.path.isdir(path):
        raise CLIError(f"{path} is a folder; this command needs a .keras model file")
    if not path.endswith(".keras"):
        raise CLIError(f"{path} is not a model: expected a .keras file (or, where "
                       "accepted, a SavedModel folder)")
    from keras_seq2seq import saving
    from keras_seq2seq.models import Seq2Seq

    model = saving.load_model(path, compile=False)
    if not isinstance(model, Seq2Seq):
        raise CLIError(f"{path} holds a {type(model).__name__} model, not a "
                       "keras_seq2seq Seq2Seq")
    if need_tokenizers and (model.source_tokenizer is None
                            or model.target_tokenizer is None):
        raise CLIError(f"{path} holds a Seq2Seq without tokenizers, so it cannot "
                       "translate text; build it with source_tokenizer= and "
                       "target_tokenizer=")
    return model


# ------------------------------------------------------------------------ plotting

HANGUL_FONT_HINT = (
    "no installed font covers Hangul, so it is drawn as empty boxes; install one "
    "(Debian/Ubuntu: sudo apt-get install fonts-nanum, or fonts-noto-cjk)")


def draw_attention(found, path, title):
    """The heat map of a `Translation` into `path`, with a one-line font hint.

    `plotting.plot_attention`'s own font warnings are replaced by one line
    `keras-seq2seq: note: ...` on stderr when the text needs a font that is missing.
    """
    from keras_seq2seq import plotting

    texts = [title, *found.source_tokens, *found.tokens]
    if plotting.has_cjk(texts) and plotting.find_hangul_font() is None:
        print(f"{PROG}: note: {HANGUL_FONT_HINT}", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the hint above replaces the font warnings
        plotting.plot_attention(found.attention, found.source_tokens, found.tokens,
                                path=path, title=title)
