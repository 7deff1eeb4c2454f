"""The `keras-seq2seq` command line (also `python -m keras_seq2seq`).

Subcommands: `demo`, `train`, `evaluate`, `translate`, `export`, `plot-attention`;
`keras-seq2seq COMMAND --help` documents each. The commands only parse their
arguments, call the package (`keras_seq2seq.demo`, `keras_seq2seq.config`,
`keras_seq2seq.saving`, `keras_seq2seq.export`, `keras_seq2seq.evaluation`,
`keras_seq2seq.plotting`) and print.

A user mistake (a missing file, a bad configuration, a path that is not a model, a bad
value) prints one line `keras-seq2seq: error: <cause>` on stderr and exits with
status 2; Ctrl-C exits with status 130.
"""

import argparse
import contextlib
import json
import os
import shlex
import sys
import textwrap

PROG = "keras-seq2seq"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A user mistake found by the command line itself (printed, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line `keras-seq2seq: error: ...`, exit status 2."""

    def error(self, message):
        hint = f" (see `{self.prog} --help`)"
        self.exit(EXIT_USAGE, f"{PROG}: error: {message}{hint}\n")


def _one_line(text):
    return " ".join(str(text).split())


def _print_error(error):
    if isinstance(error, OSError) and error.filename and error.strerror:
        message = f"{error.filename}: {error.strerror}"
    else:
        message = str(error) or type(error).__name__
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------- arguments


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a positive "
                                         "integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a positive "
                                         "integer")
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected an integer "
                                         ">= 0")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a number "
                                         ">= 0")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a positive "
                                         "number")
    return value


def build_parser():
    """The `argparse` parser of `keras-seq2seq` and its subcommands."""
    from keras_seq2seq import __version__

    parser = _Parser(
        prog=PROG,
        description="Attention RNN encoder-decoders (Keras 3): train, evaluate, "
                    "translate, export and inspect attention.",
        epilog=f"Run `{PROG} COMMAND --help` for the options of a command.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=_Parser)

    def command(name, help_text, description=None, epilog=None):
        text = textwrap.fill(description or help_text, width=79)
        return commands.add_parser(
            name, help=help_text, description=text, epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter)

    # ------------------------------------------------------------------ demo
    demo = command(
        "demo", "train the built-in date-normalisation demo",
        description="Trains a character-level attention model on synthetic dates "
                    "(\"Friday, March 3rd 2023\", \"2023년 3월 3일\" -> 2023-03-03) "
                    "with a decaying teacher-forcing ratio, reports exact match, "
                    "BLEU and chrF on held-out dates, and writes the .keras model, "
                    "an attention heat map, metrics.json and a SavedModel export "
                    "into the output folder.")
    demo.add_argument("--output", default="demo_output", metavar="DIR",
                      help="output folder (default: demo_output)")
    demo.add_argument("--epochs", type=_positive_int, default=6, metavar="N",
                      help="training epochs (default: 6)")
    demo.add_argument("--train-size", type=_positive_int, default=20000, metavar="N",
                      help="training pairs (default: 20000)")
    demo.add_argument("--test-size", type=_positive_int, default=5000, metavar="N",
                      help="held-out test dates (default: 5000)")
    demo.add_argument("--batch-size", type=_positive_int, default=64, metavar="N",
                      help="training batch size (default: 64)")
    demo.add_argument("--seed", type=_non_negative_int, default=0, metavar="N",
                      help="seed of the data, the weights and the coin tosses "
                           "(default: 0)")
    demo.set_defaults(func=cmd_demo)

    # ------------------------------------------------------------------ train
    from keras_seq2seq.config import STRATEGIES, describe_keys

    train = command(
        "train", "train a model from a TOML configuration",
        description="Trains a model described by a TOML file (sections [data], "
                    "[tokenizer], [model], [training], [output]; see "
                    "examples/train_config.toml). Writes into the output folder: "
                    "config.json, tokenizers/, backup/ (running the same command "
                    "again resumes from the last completed epoch), "
                    "checkpoints/latest.keras, logs/ (TensorBoard: losses, "
                    "teacher_forcing_ratio, attention images), model.keras and "
                    "export/ (SavedModel). Ctrl-C saves interrupted.keras and exits "
                    "with status 130.",
        epilog="configuration keys (also for --set):\n" + describe_keys())
    train.add_argument("--config", required=True, metavar="FILE.toml",
                       help="the training configuration (required)")
    train.add_argument("--set", action="append", default=[], dest="overrides",
                       metavar="SECTION.KEY=VALUE",
                       help="override a configuration key; VALUE is read as TOML "
                            "(64, 0.5, true, \"gru\", {name=\"linear\", slope=1e-4}) "
                            "or else as a plain string; repeatable")
    train.add_argument("--output", metavar="DIR",
                       help="output folder (overrides output.dir)")
    train.add_argument("--epochs", type=_positive_int, metavar="N",
                       help="training epochs (overrides training.epochs)")
    train.add_argument("--batch-size", type=_positive_int, metavar="N",
                       help="batch size (overrides training.batch_size)")
    train.add_argument("--learning-rate", type=_positive_float, metavar="LR",
                       help="Adam learning rate (overrides training.learning_rate)")
    train.add_argument("--seed", type=_non_negative_int, metavar="N",
                       help="random seed (overrides training.seed)")
    train.add_argument("--no-export", action="store_true",
                       help="skip the SavedModel export (sets output.export = false)")
    train.add_argument("--strategy", choices=STRATEGIES, default="default",
                       help="tf.distribute strategy: default (no distribution), "
                            "mirrored (all local GPUs) or one_device (the first GPU, "
                            "else the CPU); default: default")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                       help="Keras fit verbosity: 0 silent, 1 progress bar, 2 one "
                            "line per epoch (default: 1 in a terminal, else 2)")
    train.set_defaults(func=cmd_train)

    # ------------------------------------------------------------------ evaluate
    evaluate = command(
        "evaluate", "score a model on a test set (BLEU, chrF, exact match)",
        description="Translates a source file and scores the translations against a "
                    "reference file (one sentence a line, aligned) with sacrebleu: "
                    "BLEU, chrF, exact match and lowercased word-token BLEU.")
    _model_argument(evaluate)
    evaluate.add_argument("--source", required=True, metavar="FILE",
                          help="source sentences, one a line (required)")
    evaluate.add_argument("--reference", required=True, metavar="FILE",
                          help="reference translations, aligned with --source "
                               "(required)")
    _beam_argument(evaluate)
    evaluate.add_argument("--batch-size", type=_positive_int, default=64, metavar="N",
                          help="sentences per translation batch (default: 64)")
    evaluate.add_argument("--output", metavar="FILE",
                          help="also write the translations there, one a line")
    evaluate.add_argument("--json", action="store_true",
                          help="print the scores as one JSON object on stdout")
    evaluate.set_defaults(func=cmd_evaluate)

    # ------------------------------------------------------------------ translate
    translate = command(
        "translate", "translate sentences",
        description="Translates the TEXT arguments, or the lines of --input, or, "
                    "with neither, standard input line by line (each translation is "
                    "printed and flushed as soon as it is ready).")
    _model_argument(translate)
    translate.add_argument("texts", nargs="*", metavar="TEXT",
                           help="sentences to translate")
    translate.add_argument("--input", metavar="FILE",
                           help="translate the lines of FILE (one sentence a line)")
    _beam_argument(translate)
    translate.add_argument("--n-best", type=_positive_int, metavar="K",
                           help="print the K best beam hypotheses of each sentence, "
                                "one a line as SCORE<TAB>TRANSLATION, followed by an "
                                "empty line (beam width: max(--beam, K); .keras "
                                "models only)")
    translate.add_argument("--show-attention", action="store_true",
                           help="print the attention of each translation as a text "
                                "table (percent per source token; .keras models only)")
    translate.add_argument("--plot", metavar="PNG",
                           help="write the attention heat map to PNG (with several "
                                "sentences: PNG with -1, -2, ... before the "
                                "extension; .keras models only)")
    translate.add_argument("--batch-size", type=_positive_int, default=64, metavar="N",
                           help="sentences per batch for arguments and --input "
                                "(default: 64)")
    translate.set_defaults(func=cmd_translate)

    # ------------------------------------------------------------------ export
    export = command(
        "export", "export a .keras model as a SavedModel translator",
        description="Writes a self-contained TensorFlow SavedModel that translates "
                    "strings (tokenizers, encoder, decoding loop and detokenizer in "
                    "the graph), for TF Serving or tf.saved_model.load (after "
                    "`import tensorflow_text`). Use it with `keras-seq2seq translate "
                    "--model DIR`.")
    export.add_argument("--model", required=True, metavar="M.keras",
                        help="the .keras model to export (required)")
    export.add_argument("--output", required=True, metavar="DIR",
                        help="the SavedModel folder to create (required)")
    export.add_argument("--beam", type=_positive_int, metavar="N",
                        help="bake beam search of width N into the export "
                             "(default: greedy decoding)")
    export.add_argument("--max-length", type=_positive_int, metavar="N",
                        help="output cap in tokens (default: the model's "
                             "max_decode_length)")
    export.add_argument("--overwrite", action="store_true",
                        help="replace DIR if it exists")
    export.set_defaults(func=cmd_export)

    # ------------------------------------------------------------------ plot-attention
    plot = command(
        "plot-attention", "draw the attention heat map of one translation",
        description="Translates TEXT and writes its attention weights as a heat map "
                    "(source tokens across, target tokens down). Hangul needs a font "
                    "that covers it (Debian/Ubuntu: fonts-nanum or fonts-noto-cjk).")
    plot.add_argument("--model", required=True, metavar="M.keras",
                      help="the .keras model (required)")
    plot.add_argument("--output", required=True, metavar="PNG",
                      help="the PNG file to write (required)")
    plot.add_argument("--beam", type=_positive_int, metavar="N",
                      help="use the best hypothesis of a beam search of width N "
                           "(default: greedy decoding)")
    plot.add_argument("text", metavar="TEXT", help="the sentence to translate")
    plot.set_defaults(func=cmd_plot_attention)

    # ------------------------------------------------------------------ study
    from keras_seq2seq import study_command

    study = command(
        "study", "compare teacher-forcing regimes (the study of docs/teacher_forcing.md)",
        description="Trains the same small model, from the same seed, on the same "
                    "data and for the same CPU-time budget under each teacher-forcing "
                    "regime (full teacher forcing, constant 0.5, linear / exponential "
                    "/ inverse-sigmoid decays, the accuracy-triggered switch, batch vs "
                    "token granularity, argmax vs sampled feedback, parallel scheduled "
                    "sampling) and writes results.json, results.md and PNG plots of "
                    "free-running accuracy, the ratio and the teacher-forced/"
                    "free-running gap. --smoke runs every regime in about 2 CPU "
                    "minutes; the full date study (3 seeds x 70 s) takes about 40.")
    study_command.add_arguments(study)
    study.set_defaults(func=cmd_study)
    return parser


def _model_argument(parser):
    parser.add_argument("--model", required=True, metavar="PATH",
                        help="a .keras model, or a SavedModel folder written by "
                             "`keras-seq2seq export` (required)")


def _beam_argument(parser):
    parser.add_argument("--beam", type=_positive_int, metavar="N",
                        help="beam search of width N (default: greedy decoding); a "
                             "SavedModel decodes as it was exported")


# ------------------------------------------------------------------- model loading


class _KerasTranslator:
    """A `.keras` `Seq2Seq` behind the interface of an exported translator."""

    is_keras = True

    def __init__(self, model, path):
        self.model = model
        self.path = path

    def translate(self, texts, beam=None):
        if beam:
            return self.model.translate(texts, method="beam", beam_width=beam)
        return self.model.translate(texts)


class _SavedModelTranslator:
    is_keras = False

    def __init__(self, translator, path):
        self.translator = translator
        self.path = path
        self.beam_width = translator.metadata.get("beam_width")

    def translate(self, texts, beam=None):
        del beam  # checked in _load_translator
        return self.translator.translate(list(texts))


def _load_translator(path, beam=None, keras_only=None):
    """Loads a `.keras` model or a SavedModel export (user errors: `CLIError`)."""
    if not os.path.exists(path):
        raise CLIError(f"no model at {path}: expected a .keras file or a SavedModel "
                       "folder")
    if os.path.isdir(path):
        if keras_only:
            raise CLIError(f"{keras_only} needs a .keras model; {path} is a folder "
                           "(a SavedModel export?)")
        from keras_seq2seq import export

        translator = _SavedModelTranslator(export.load_translator(path), path)
        exported = translator.beam_width
        if beam is not None and beam != exported:
            how = f"beam search of width {exported}" if exported else "greedy decoding"
            raise CLIError(
                f"{path} is a SavedModel export fixed to {how}; --beam {beam} needs "
                f"the .keras model, or `{PROG} export --beam {beam}`")
        return translator
    return _KerasTranslator(_load_keras(path), path)


def _load_keras(path, need_tokenizers=True):
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


# ------------------------------------------------------------------------ commands


def cmd_demo(args):
    """`keras-seq2seq demo`: `keras_seq2seq.demo.run_demo`, then the export."""
    import importlib.util

    from keras_seq2seq.demo import DEMO_SAMPLES, run_demo

    verbose = 1 if sys.stdout.isatty() else 2
    results = run_demo(args.output, epochs=args.epochs, train_size=args.train_size,
                       test_size=args.test_size, batch_size=args.batch_size,
                       seed=args.seed, verbose=verbose)
    model_path = results["model_path"]
    export_path = None
    if importlib.util.find_spec("keras_seq2seq.export") is not None:
        from keras_seq2seq import export, saving

        export_path = os.path.join(args.output, "export")
        model = saving.load_model(model_path, compile=False)
        export.export_translator(model, export_path, overwrite=True)
    q = shlex.quote
    # run_demo has printed where the model, the heat map and metrics.json are.
    if export_path:
        print(f"Export:       {export_path}  (SavedModel; tf.saved_model.load after "
              "`import tensorflow_text`)")
    print("\nTry:")
    print(f"  {PROG} translate --model {q(model_path)} {q(DEMO_SAMPLES[0])} "
          f"{q(DEMO_SAMPLES[4])}")
    print(f"  {PROG} translate --model {q(model_path)} --beam 4 --n-best 3 "
          f"{q(DEMO_SAMPLES[1])}")
    print(f"  {PROG} translate --model {q(model_path)} --show-attention "
          f"{q(DEMO_SAMPLES[3])}")
    if export_path:
        print(f"  echo {q(DEMO_SAMPLES[2])} | {PROG} translate --model {q(export_path)}")
    print(f"  {PROG} plot-attention --model {q(model_path)} --output attention.png "
          f"{q(DEMO_SAMPLES[5])}")
    return 0


def cmd_train(args):
    """`keras-seq2seq train`: `config.load_config` + `config.train_from_config`."""
    from keras_seq2seq import config as config_lib

    overrides = dict(config_lib.parse_override(item) for item in args.overrides)
    flags = {"output.dir": args.output, "training.epochs": args.epochs,
             "training.batch_size": args.batch_size,
             "training.learning_rate": args.learning_rate, "training.seed": args.seed}
    overrides.update({key: value for key, value in flags.items() if value is not None})
    if args.no_export:
        overrides["output.export"] = False
    if not os.path.isfile(args.config):
        what = "is a folder" if os.path.isdir(args.config) else "does not exist"
        raise CLIError(f"configuration file {args.config} {what}")
    config = config_lib.load_config(args.config, overrides)
    verbose = args.verbose
    if verbose is None:  # a progress bar in terminals, one line per epoch in logs
        verbose = 1 if sys.stdout.isatty() else 2
    result = config_lib.train_from_config(config, strategy=args.strategy,
                                          verbose=verbose)
    out = result["output_dir"]
    print(f"\nDone: {result['epochs']} epoch(s) in {out}.")
    if os.path.isdir(os.path.join(out, "logs")):
        print(f"  TensorBoard:  tensorboard --logdir "
              f"{shlex.quote(os.path.join(out, 'logs'))}")
    model = shlex.quote(result["model_path"])
    print(f"  Translate:    {PROG} translate --model {model} \"...\"")
    if result["export_path"]:
        print(f"  Export:       {PROG} translate --model "
              f"{shlex.quote(result['export_path'])} \"...\"")
    return 0


def cmd_evaluate(args):
    """`keras-seq2seq evaluate`: translate a test set and score it."""
    import keras

    from keras_seq2seq import evaluation
    from keras_seq2seq.text import read_parallel_files

    corpus = read_parallel_files(args.source, args.reference)
    translator = _load_translator(args.model, beam=args.beam)
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
    decoding = f"beam {args.beam}" if args.beam else (
        "greedy" if translator.is_keras or not translator.beam_width
        else f"beam {translator.beam_width} (export)")
    if args.json:
        print(json.dumps({**scores, "sentences": len(hypotheses),
                          "decoding": decoding}))
    else:
        print(f"BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  exact match "
              f"{scores['exact_match']:.2%}  word BLEU {scores['word_bleu']:.2f}  "
              f"({len(hypotheses)} sentences, {decoding})")
    return 0


def cmd_translate(args):
    """`keras-seq2seq translate`: arguments, --input FILE, or stdin line by line."""
    if args.texts and args.input:
        raise CLIError("give sentences as arguments or with --input, not both")
    needs_keras = next((flag for flag, on in (("--n-best", args.n_best),
                                               ("--show-attention", args.show_attention),
                                               ("--plot", args.plot)) if on), None)
    if args.input and not os.path.isfile(args.input):
        raise CLIError(f"input file {args.input} does not exist")
    translator = _load_translator(args.model, beam=args.beam, keras_only=needs_keras)
    if needs_keras:
        translator = _DetailedTranslator(translator.model, args)

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
    if isinstance(translator, _DetailedTranslator):
        return translator.render(texts, first_index)
    return translator.translate(texts, beam=args.beam)


class _DetailedTranslator:
    """n-best lists, attention tables and heat maps of a `.keras` model."""

    def __init__(self, model, args):
        self.model = model
        self.args = args
        self.plots = 0

    def render(self, texts, first_index):
        from keras_seq2seq import plotting

        args = self.args
        lists = None
        if args.n_best:
            lists = n_best(self.model, texts, args.n_best,
                           max(args.beam or 1, args.n_best))
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
            translation, source_tokens, target_tokens, weights = attention_of(
                self.model, text, args.beam)
            if lists is None:
                lines.append(translation)
            if args.show_attention:
                lines.append(plotting.attention_table(weights, source_tokens,
                                                      target_tokens))
                lines.append("")
            if args.plot:
                path = _plot_path(args.plot, first_index + offset, args)
                _draw(weights, source_tokens, target_tokens, path,
                      f"{text} → {translation}")
                print(f"Attention heat map: {path}", file=sys.stderr)
        return lines


def _plot_path(path, index, args):
    several = args.input or (args.texts and len(args.texts) > 1) or not args.texts
    if not several:
        return path
    root, ext = os.path.splitext(path)
    return f"{root}-{index + 1}{ext or '.png'}"


def n_best(model, texts, k, beam_width):
    """The `k` best beam hypotheses of each text as `[(translation, score), ...]`."""
    import tensorflow as tf

    results = [[] for _ in texts]
    keep = [i for i, text in enumerate(texts) if text.strip()]
    if not keep:
        return results
    ids = model.source_tokenizer.tokenize(tf.constant([texts[i] for i in keep]))
    ids = ids.to_tensor() if isinstance(ids, tf.RaggedTensor) else ids
    result = model.generate(ids, method="beam", beam_width=beam_width, num_return=k)
    flat = tf.reshape(result.ids, [-1, tf.shape(result.ids)[-1]])
    decoded = model.target_tokenizer.detokenize(flat).numpy().reshape(len(keep), k)
    scores = result.scores.numpy()
    for row, i in enumerate(keep):
        results[i] = [(decoded[row, j].decode("utf-8"), float(scores[row, j]))
                      for j in range(k) if scores[row, j] > float("-inf")]
    return results


def attention_of(model, text, beam=None):
    """Translation, source tokens, target tokens and attention weights of one text,
    greedy or (with `beam`) the best hypothesis of a beam search of width `beam`."""
    found = model.translate_full(
        text, **({"method": "beam", "beam_width": beam} if beam else {}))
    return found.text, found.source_tokens, found.tokens, found.attention


HANGUL_FONT_HINT = (
    "no installed font covers Hangul, so it is drawn as empty boxes; install one "
    "(Debian/Ubuntu: sudo apt-get install fonts-nanum, or fonts-noto-cjk)")


def _has_hangul(texts):
    return any(0x1100 <= ord(c) <= 0x11FF or 0x3130 <= ord(c) <= 0x318F
               or 0xA960 <= ord(c) <= 0xA97F or 0xAC00 <= ord(c) <= 0xD7FF
               for text in texts for c in text)


def _draw(weights, source_tokens, target_tokens, path, title):
    """`plotting.plot_attention` into `path`, with the one-line Hangul font hint."""
    import warnings

    from keras_seq2seq import plotting

    if _has_hangul([title, *source_tokens, *target_tokens]):
        if plotting.find_hangul_font() is None:
            print(f"{PROG}: note: {HANGUL_FONT_HINT}", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the hint above replaces the font warnings
        plotting.plot_attention(weights, source_tokens, target_tokens, path=path,
                                title=title)


def cmd_export(args):
    """`keras-seq2seq export`: `export.export_translator` of a `.keras` model."""
    from keras_seq2seq import export

    if os.path.exists(args.output) and not args.overwrite:
        raise CLIError(f"{args.output} already exists; pass --overwrite to replace it")
    model = _load_keras(args.model, need_tokenizers=False)  # ids-only exports work
    path = export.export_translator(model, args.output, beam_width=args.beam,
                                    max_length=args.max_length,
                                    overwrite=args.overwrite)
    how = f"beam search of width {args.beam}" if args.beam else "greedy decoding"
    print(f"SavedModel translator ({how}) written to {path}")
    print(f"  {PROG} translate --model {shlex.quote(path)} \"...\"")
    print("  Python: import tensorflow_text, tensorflow as tf; "
          f"tf.saved_model.load({path!r}).translate(tf.constant([\"...\"]))")
    return 0


def cmd_study(args):
    from keras_seq2seq import study_command

    study_command.run_from_args(args, command=f"{PROG} " + shlex.join(args.argv))
    return 0


def cmd_plot_attention(args):
    """`keras-seq2seq plot-attention`: the heat map of one translation."""
    if not args.text.strip():
        raise CLIError("TEXT is empty")
    model = _load_keras(args.model)
    translation, source_tokens, target_tokens, weights = attention_of(
        model, args.text, args.beam)
    _draw(weights, source_tokens, target_tokens, args.output,
          f"{args.text} → {translation}")
    print(translation)
    print(f"Attention heat map: {args.output}")
    return 0


# ---------------------------------------------------------------------------- main


def main(argv=None):
    """Runs the command line; returns the exit status.

    Args:
        argv: the arguments (default: `sys.argv[1:]`).
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from keras_seq2seq.config import TrainingInterrupted

    try:
        return args.func(args) or 0
    except TrainingInterrupted as stop:
        print(f"{PROG}: interrupted; model saved to {stop.model_path}; run the same "
              f"command again to resume from the last completed epoch "
              f"({stop.backup_dir})", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `keras-seq2seq translate ... | head -1`
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return 1
    except (CLIError, ValueError, OSError) as error:  # user mistakes: one line
        _print_error(error)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
