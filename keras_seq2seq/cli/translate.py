"""`keras-seq2seq translate`: arguments, `--input FILE`, or stdin line by line.

A SavedModel export or a `.keras` model translates; `--n-best` works on both (an
export returns the hypotheses it was exported with: `export --beam N --n-best K`);
`--show-attention` and `--plot` need the `.keras` model (`model.translate_full`).
"""

import os
import sys

from keras_seq2seq.cli.common import (
    CLIError,
    add_command,
    beam_argument,
    decoding_options,
    draw_attention,
    load_translator,
    model_argument,
    positive_int,
)


def add_parser(commands):
    parser = add_command(
        commands, "translate", "translate sentences",
        description="Translates the TEXT arguments, or the lines of --input, or, "
                    "with neither, standard input line by line (each translation is "
                    "printed and flushed as soon as it is ready).",
        epilog="Example:\n  keras-seq2seq translate --model model.keras \"ein Hund läuft\"")
    model_argument(parser)
    parser.add_argument("texts", nargs="*", metavar="TEXT",
                        help="sentences to translate")
    parser.add_argument("--input", metavar="FILE",
                        help="translate the lines of FILE (one sentence a line)")
    beam_argument(parser)
    parser.add_argument("--n-best", type=positive_int, metavar="K",
                        help="print the K best beam hypotheses of each sentence, "
                             "one a line as SCORE<TAB>TRANSLATION, followed by an "
                             "empty line (beam width: max(--beam, K); an export "
                             "gives the K of `export --n-best`, at most)")
    parser.add_argument("--show-attention", action="store_true",
                        help="print the attention of each translation as a text "
                             "table (percent per source token; .keras models only)")
    parser.add_argument("--plot", metavar="PNG",
                        help="write the attention heat map to PNG (with several "
                             "sentences: PNG with -1, -2, ... before the "
                             "extension; .keras models only)")
    parser.add_argument("--batch-size", type=positive_int, default=64, metavar="N",
                        help="sentences per batch for arguments and --input "
                             "(default: 64)")
    return parser


def run(args):
    if args.texts and args.input:
        raise CLIError("give sentences as arguments or with --input, not both")
    needs_keras = next((flag for flag, on in (("--show-attention", args.show_attention),
                                               ("--plot", args.plot)) if on), None)
    if args.input and not os.path.isfile(args.input):
        raise CLIError(f"input file {args.input} does not exist")
    translator = load_translator(args.model, beam=args.beam, keras_only=needs_keras,
                                 n_best=args.n_best, length_penalty=args.length_penalty)
    if needs_keras or args.n_best:
        translator = DetailedTranslator(translator, args)

    if args.texts or args.input:
        if args.input:
            with open(args.input, encoding="utf-8") as f:
                texts = [line.rstrip("\r\n") for line in f]
        else:
            texts = list(args.texts)
        for start in range(0, len(texts), args.batch_size):
            batch = texts[start:start + args.batch_size]
            for line in _render(translator, batch, args, first_index=start):
                print(line, flush=True)
        return 0

    if sys.stdin.isatty():
        print("Type sentences, one a line (Ctrl-D to end).", file=sys.stderr)
    for index, line in enumerate(iter(sys.stdin.readline, "")):
        for out in _render(translator, [line.rstrip("\r\n")], args, first_index=index):
            print(out, flush=True)
    return 0


def _render(translator, texts, args, first_index):
    """Output lines for a batch of sentences."""
    if isinstance(translator, DetailedTranslator):
        return translator.render(texts, first_index)
    return translator.translate(texts, beam=args.beam)


class DetailedTranslator:
    """n-best lists (a `.keras` model or an export), attention tables and heat maps
    (a `.keras` model)."""

    def __init__(self, translator, args):
        self.translator = translator
        self.model = getattr(translator, "model", None)
        self.args = args

    def render(self, texts, first_index):
        from keras_seq2seq import plotting

        args = self.args
        lists = None
        if args.n_best:
            lists = self.translator.n_best(texts, args.n_best, beam=args.beam)
        lines = []
        for offset, text in enumerate(texts):
            if lists is not None:
                lines.extend(f"{score:.4f}\t{hyp}" for hyp, score in lists[offset])
                lines.append("")
            if not (args.show_attention or args.plot):
                continue
            if not text.strip():
                if lists is None:
                    lines.append("")
                continue
            found = self.model.translate_full(
                text, **decoding_options(args.beam, args.length_penalty))
            if lists is None:
                lines.append(found.text)
            if args.show_attention:
                lines.append(plotting.attention_table(found.attention,
                                                      found.source_tokens, found.tokens))
                lines.append("")
            if args.plot:
                path = _plot_path(args.plot, first_index + offset, args)
                draw_attention(found, path, f"{text} → {found.text}")
                print(f"Attention heat map: {path}", file=sys.stderr)
        return lines


def _plot_path(path, index, args):
    several = args.input or (args.texts and len(args.texts) > 1) or not args.texts
    if not several:
        return path
    root, ext = os.path.splitext(path)
    return f"{root}-{index + 1}{ext or '.png'}"
