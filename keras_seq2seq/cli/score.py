"""`keras-seq2seq score`: forced decoding of given translations, one line a pair.

A `.keras` model (`Seq2Seq.score`) or a SavedModel export (its `score` endpoint).
Lines of `--source` and `--target` pair up; each pair prints one line:

* `--format tsv` (default): `SCORE<TAB>LOG_PROB<TAB>N_TOKENS<TAB>TOKEN_LOG_PROBS`:
  the ranking score (LOG_PROB, or LOG_PROB / N_TOKENS with `--length-normalize`),
  the summed natural-log probability of the target tokens and `[END]`, how many
  tokens that is, and their log-probabilities separated by spaces;
* `--format jsonl`: one JSON object a line with `score`, `log_prob`, `tokens` (the
  scored tokens, `[END]` last) and `token_log_probs`.
"""

import json
import os

from keras_seq2seq.cli.common import (
    CLIError,
    add_command,
    load_translator,
    model_argument,
    positive_int,
)

FORMATS = ("tsv", "jsonl")


def add_parser(commands):
    parser = add_command(
        commands, "score", "score given translations (forced decoding)",
        description="Prints the model's log-probability of each target line given "
                    "its source line (summed over the target tokens and [END], and "
                    "per token), one output line a pair, as TSV or JSON lines.",
        epilog="Example:\n  keras-seq2seq score --model model.keras --source "
               "test.de --target test.en --format jsonl")
    model_argument(parser)
    parser.add_argument("--source", required=True, metavar="FILE",
                        help="source sentences, one a line (required)")
    parser.add_argument("--target", required=True, metavar="FILE",
                        help="their translations, one a line (required)")
    parser.add_argument("--format", choices=FORMATS, default="tsv",
                        help="tsv: SCORE, LOG_PROB, N_TOKENS, TOKEN_LOG_PROBS; jsonl: "
                             "a JSON object a line (default: tsv)")
    parser.add_argument("--length-normalize", action="store_true",
                        help="SCORE is the mean log-probability per token")
    parser.add_argument("--batch-size", type=positive_int, default=64, metavar="N",
                        help="pairs per batch (default: 64)")
    return parser


def _lines(path, flag):
    if not os.path.isfile(path):
        raise CLIError(f"{flag} file {path} does not exist")
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f]


def format_line(found, output_format):
    """One output line for `(score, log_prob, tokens, token_log_probs)`."""
    score, log_prob, tokens, token_log_probs = found
    if output_format == "jsonl":
        return json.dumps({"score": score, "log_prob": log_prob, "tokens": tokens,
                           "token_log_probs": token_log_probs}, ensure_ascii=False)
    return "\t".join([f"{score:.6f}", f"{log_prob:.6f}", str(len(tokens)),
                      " ".join(f"{value:.6f}" for value in token_log_probs)])


def run(args):
    sources = _lines(args.source, "--source")
    targets = _lines(args.target, "--target")
    if len(sources) != len(targets):
        raise CLIError(f"--source has {len(sources)} lines and --target "
                       f"{len(targets)}: give one target line per source line")
    translator = load_translator(args.model)
    for start in range(0, len(sources), args.batch_size):
        stop = start + args.batch_size
        for found in translator.score(sources[start:stop], targets[start:stop],
                                      length_normalize=args.length_normalize):
            print(format_line(found, args.format), flush=True)
    return 0
