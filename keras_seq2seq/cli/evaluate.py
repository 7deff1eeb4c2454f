"""`keras-seq2seq evaluate`: translate a test set and score it (sacrebleu)."""

import contextlib
import json
import sys

from keras_seq2seq.cli.common import (
    add_command,
    beam_argument,
    load_translator,
    model_argument,
    positive_int,
)


def add_parser(commands):
    parser = add_command(
        commands, "evaluate", "score a model on a test set (BLEU, chrF, exact match)",
        description="Translates a source file and scores the translations against a "
                    "reference file (one sentence a line, aligned) with sacrebleu: "
                    "BLEU, chrF, exact match and lowercased word-token BLEU.",
        epilog="Example:\n  keras-seq2seq evaluate --model model.keras --source "
               "test.de --reference test.en --beam 5 --json")
    model_argument(parser)
    parser.add_argument("--source", required=True, metavar="FILE",
                        help="source sentences, one a line (required)")
    parser.add_argument("--reference", required=True, metavar="FILE",
                        help="reference translations, aligned with --source "
                             "(required)")
    beam_argument(parser)
    parser.add_argument("--batch-size", type=positive_int, default=64, metavar="N",
                        help="sentences per translation batch (default: 64)")
    parser.add_argument("--output", metavar="FILE",
                        help="also write the translations there, one a line")
    parser.add_argument("--json", action="store_true",
                        help="print the scores as one JSON object on stdout")
    return parser


def run(args):
    import keras

    from keras_seq2seq import evaluation
    from keras_seq2seq.text import read_parallel_files

    corpus = read_parallel_files(args.source, args.reference)
    translator = load_translator(args.model, beam=args.beam,
                                 length_penalty=args.length_penalty)
    sources, references = corpus.sources, corpus.targets
    batches = [sources[i:i + args.batch_size]
               for i in range(0, len(sources), args.batch_size)]
    hypotheses = []
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the results
        progress = keras.utils.Progbar(len(batches), unit_name="batch")
        for i, batch in enumerate(batches, 1):
            hypotheses.extend(translator.translate(batch, beam=args.beam))
            progress.update(i)
    scores = evaluation.evaluate_translations(hypotheses, references)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.writelines(h + "\n" for h in hypotheses)
    if args.beam:
        decoding = f"beam {args.beam}"
        if args.length_penalty:
            decoding += f", length penalty {args.length_penalty:g}"
    elif translator.is_keras or not translator.beam_width:
        decoding = "greedy"
    else:
        decoding = f"beam {translator.beam_width} (export)"
    if args.json:
        print(json.dumps({**scores, "sentences": len(hypotheses),
                          "decoding": decoding}))
    else:
        print(f"BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  exact match "
              f"{scores['exact_match']:.2%}  word BLEU {scores['word_bleu']:.2f}  "
              f"({len(hypotheses)} sentences, {decoding})")
    return 0
