"""`keras-seq2seq plot-attention`: the heat map of one translation."""

from keras_seq2seq.cli.common import (
    CLIError,
    add_command,
    decoding_options,
    draw_attention,
    keras_model_and_output_arguments,
    load_keras,
)


def add_parser(commands):
    parser = add_command(
        commands, "plot-attention", "draw the attention heat map of one translation",
        description="Translates TEXT and writes its attention weights as a heat map "
                    "(source tokens across, target tokens down). Hangul needs a font "
                    "that covers it (Debian/Ubuntu: fonts-nanum or fonts-noto-cjk).",
        epilog="Example:\n  keras-seq2seq plot-attention --model model.keras --output "
               "attention.png \"ein Hund läuft\"")
    keras_model_and_output_arguments(
        parser, "the .keras model", "PNG", "the PNG file to write",
        "use the best hypothesis of a beam search of width N")
    parser.add_argument("text", metavar="TEXT", help="the sentence to translate")
    return parser


def run(args):
    if not args.text.strip():
        raise CLIError("TEXT is empty")
    model = load_keras(args.model)
    found = model.translate_full(args.text, **decoding_options(args.beam))
    draw_attention(found, args.output, f"{args.text} → {found.text}")
    print(found.text)
    print(f"Attention heat map: {args.output}")
    return 0
