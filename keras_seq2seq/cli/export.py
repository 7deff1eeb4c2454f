"""`keras-seq2seq export`: `export.export_translator` of a `.keras` model."""

import os
import shlex

from keras_seq2seq.cli.common import (
    PROG,
    CLIError,
    add_command,
    keras_model_and_output_arguments,
    load_keras,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)

# Decoding options baked into the export: (flag, export_translator keyword, type,
# metavar, help, beam only).
OPTIONS = (
    ("--length-penalty", "length_penalty", float, "ALPHA",
     "GNMT length penalty alpha of the beam search (needs --beam; default 0)", True),
    ("--coverage-penalty", "coverage_penalty", non_negative_float, "BETA",
     "GNMT coverage penalty beta >= 0 of the beam search (needs --beam; default 0)",
     True),
    ("--min-length", "min_length", non_negative_int, "N",
     "never end a translation before N tokens (default 0)", False),
    ("--max-length-ratio", "max_length_ratio", positive_float, "A",
     "cap each translation at A x its source length (+ --max-length-offset)", False),
    ("--max-length-offset", "max_length_offset", non_negative_int, "B",
     "with --max-length-ratio: cap at A x source length + B (default 0)", False),
)


def add_parser(commands):
    parser = add_command(
        commands, "export", "export a .keras model as a SavedModel translator",
        description="Writes a self-contained TensorFlow SavedModel that translates "
                    "strings (tokenizers, encoder, decoding loop and detokenizer in "
                    "the graph), for TF Serving or tf.saved_model.load (after "
                    "`import tensorflow_text`). Use it with `keras-seq2seq translate "
                    "--model DIR`.",
        epilog="Example:\n  keras-seq2seq export --model model.keras --output "
               "exports/de-en --beam 5 --length-penalty 0.6")
    keras_model_and_output_arguments(
        parser, "the .keras model to export", "DIR", "the SavedModel folder to create",
        "bake beam search of width N into the export")
    parser.add_argument("--max-length", type=positive_int, metavar="N",
                        help="output cap in tokens (default: the model's "
                             "max_decode_length)")
    for flag, _, kind, metavar, help_text, _ in OPTIONS:
        parser.add_argument(flag, type=kind, metavar=metavar, help=help_text)
    parser.add_argument("--n-best", type=positive_int, metavar="K",
                        help="with --beam: the hypotheses per sentence of the "
                             "export's n_best endpoint (at most N; default N)")
    parser.add_argument("--ensemble-with", nargs="+", metavar="OTHER.keras", default=[],
                        help="export the ensemble of --model and these models (one "
                             "SavedModel; their log-probabilities averaged each step; "
                             "they must share the tokenizers)")
    parser.add_argument("--jit-compile", choices=("auto", "on", "off"), default="auto",
                        help="decode one-sentence calls with an XLA-compiled search "
                             "(about twice as fast on a CPU; the first call of each "
                             "source length bucket compiles). auto: on where XLA "
                             "compiles the model (default)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace DIR if it exists")
    return parser


def decoding_options(args):
    """The `export_translator` keywords of the decoding flags that were given."""
    options = {}
    for flag, keyword, _, _, _, beam_only in OPTIONS:
        value = getattr(args, keyword)
        if value is None:
            continue
        if beam_only and not args.beam:
            raise CLIError(f"{flag} applies to beam search: give --beam N too")
        options[keyword] = value
    if "max_length_offset" in options and "max_length_ratio" not in options:
        raise CLIError("--max-length-offset needs --max-length-ratio")
    return options


def run(args):
    from keras_seq2seq import export

    options = decoding_options(args)
    if args.n_best and not args.beam:
        raise CLIError("--n-best needs beam search: give --beam N (N >= K) too")
    if args.n_best and args.n_best > args.beam:
        raise CLIError(f"--n-best {args.n_best} needs a beam at least as wide: "
                       f"--beam {args.n_best} or more")
    if os.path.exists(args.output) and not args.overwrite:
        raise CLIError(f"{args.output} already exists; pass --overwrite to replace it")
    model = load_keras(args.model, need_tokenizers=False)  # ids-only exports work
    if args.ensemble_with:
        from keras_seq2seq.models import Ensemble

        members = [model] + [load_keras(p, need_tokenizers=False) for p in args.ensemble_with]
        try:
            model = Ensemble(members)
        except ValueError as error:
            raise CLIError(f"--ensemble-with: {error}") from None
    path = export.export_translator(model, args.output, beam_width=args.beam,
                                    max_length=args.max_length, n_best=args.n_best,
                                    overwrite=args.overwrite,
                                    jit_compile={"on": True, "off": False}.get(
                                        args.jit_compile, "auto"),
                                    **options)
    how = f"beam search of width {args.beam}" if args.beam else "greedy decoding"
    if args.ensemble_with:
        how = f"an ensemble of {len(args.ensemble_with) + 1} models, " + how
    if options:
        how += ", " + ", ".join(f"{key}={value}" for key, value in options.items())
    print(f"SavedModel translator ({how}) written to {path}")
    print(f"  {PROG} translate --model {shlex.quote(path)} \"...\"")
    print("  Python: import tensorflow_text, tensorflow as tf; "
          f"tf.saved_model.load({path!r}).translate(tf.constant([\"...\"]))")
    return 0
