"""`keras-seq2seq export`: `export.export_translator` of a `.keras` model."""

import os
import shlex

from keras_seq2seq.cli.common import (
    PROG,
    CLIError,
    add_command,
    load_keras,
    positive_int,
)


def add_parser(commands):
    parser = add_command(
        commands, "export", "export a .keras model as a SavedModel translator",
        description="Writes a self-contained TensorFlow SavedModel that translates "
                    "strings (tokenizers, encoder, decoding loop and detokenizer in "
                    "the graph), for TF Serving or tf.saved_model.load (after "
                    "`import tensorflow_text`). Use it with `keras-seq2seq translate "
                    "--model DIR`.")
    parser.add_argument("--model", required=True, metavar="M.keras",
                        help="the .keras model to export (required)")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="the SavedModel folder to create (required)")
    parser.add_argument("--beam", type=positive_int, metavar="N",
                        help="bake beam search of width N into the export "
                             "(default: greedy decoding)")
    parser.add_argument("--max-length", type=positive_int, metavar="N",
                        help="output cap in tokens (default: the model's "
                             "max_decode_length)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace DIR if it exists")
    parser.set_defaults(func=run)
    return parser


def run(args):
    from keras_seq2seq import export

    if os.path.exists(args.output) and not args.overwrite:
        raise CLIError(f"{args.output} already exists; pass --overwrite to replace it")
    model = load_keras(args.model, need_tokenizers=False)  # ids-only exports work
    path = export.export_translator(model, args.output, beam_width=args.beam,
                                    max_length=args.max_length,
                                    overwrite=args.overwrite)
    how = f"beam search of width {args.beam}" if args.beam else "greedy decoding"
    print(f"SavedModel translator ({how}) written to {path}")
    print(f"  {PROG} translate --model {shlex.quote(path)} \"...\"")
    print("  Python: import tensorflow_text, tensorflow as tf; "
          f"tf.saved_model.load({path!r}).translate(tf.constant([\"...\"]))")
    return 0
