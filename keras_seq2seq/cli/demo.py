"""`keras-seq2seq demo`: `keras_seq2seq.demo.run_demo`, then the SavedModel export."""

import os
import shlex
import sys

from keras_seq2seq.cli.common import PROG, add_command, non_negative_int, positive_int


def add_parser(commands):
    parser = add_command(
        commands, "demo", "train the built-in date-normalisation demo",
        description="Trains a character-level attention model on synthetic dates "
                    "(\"Friday, March 3rd 2023\", \"2023년 3월 3일\" -> 2023-03-03) "
                    "with a decaying teacher-forcing ratio, reports exact match, "
                    "BLEU and chrF on held-out dates, and writes the .keras model, "
                    "an attention heat map, metrics.json and a SavedModel export "
                    "into the output folder.",
        epilog="Example:\n  keras-seq2seq demo --output demo_output --epochs 6")
    parser.add_argument("--output", default="demo_output", metavar="DIR",
                        help="output folder (default: demo_output)")
    parser.add_argument("--epochs", type=positive_int, default=6, metavar="N",
                        help="training epochs (default: 6)")
    parser.add_argument("--train-size", type=positive_int, default=20000, metavar="N",
                        help="training pairs (default: 20000)")
    parser.add_argument("--test-size", type=positive_int, default=5000, metavar="N",
                        help="held-out test dates (default: 5000)")
    parser.add_argument("--batch-size", type=positive_int, default=64, metavar="N",
                        help="training batch size (default: 64)")
    parser.add_argument("--seed", type=non_negative_int, default=0, metavar="N",
                        help="seed of the data, the weights and the coin tosses "
                             "(default: 0)")
    return parser


def run(args):
    from keras_seq2seq import export, saving
    from keras_seq2seq.demo import DEMO_SAMPLES, run_demo

    verbose = 1 if sys.stdout.isatty() else 2
    results = run_demo(args.output, epochs=args.epochs, train_size=args.train_size,
                       test_size=args.test_size, batch_size=args.batch_size,
                       seed=args.seed, verbose=verbose)
    model_path = results["model_path"]
    export_path = os.path.join(args.output, "export")
    model = saving.load_model(model_path, compile=False)
    export.export_translator(model, export_path, overwrite=True)
    q = shlex.quote
    # run_demo has printed where the model, the heat map and metrics.json are.
    print(f"Export:       {export_path}  (SavedModel; tf.saved_model.load after "
          "`import tensorflow_text`)")
    print("\nTry:")
    print(f"  {PROG} translate --model {q(model_path)} {q(DEMO_SAMPLES[0])} "
          f"{q(DEMO_SAMPLES[4])}")
    print(f"  {PROG} translate --model {q(model_path)} --beam 4 --n-best 3 "
          f"{q(DEMO_SAMPLES[1])}")
    print(f"  {PROG} translate --model {q(model_path)} --show-attention "
          f"{q(DEMO_SAMPLES[3])}")
    print(f"  echo {q(DEMO_SAMPLES[2])} | {PROG} translate --model {q(export_path)}")
    print(f"  {PROG} plot-attention --model {q(model_path)} --output attention.png "
          f"{q(DEMO_SAMPLES[5])}")
    print(f"  {PROG} serve --model {q(model_path)}   # then open http://127.0.0.1:8501/")
    return 0
