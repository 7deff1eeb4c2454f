"""`keras-seq2seq train`: `config.load_config`, then `training.train_from_config`."""

import os
import shlex
import sys

from keras_seq2seq.cli import config_keys
from keras_seq2seq.cli.common import (
    PROG,
    CLIError,
    add_command,
    non_negative_int,
    positive_float,
    positive_int,
)
from keras_seq2seq.constants import STRATEGIES


def add_parser(commands):
    # No TensorFlow for `--help`: config_keys.TEXT is `config.describe_keys()`,
    # generated, and STRATEGIES lives in the pure-Python `constants`.
    parser = add_command(
        commands, "train", "train a model from a TOML configuration",
        description="Trains a model described by a TOML file (sections [data], "
                    "[tokenizer], [model], [training], [output]; see "
                    "examples/train_config.toml). Writes into the output folder: "
                    "config.json, tokenizers/, backup/ (running the same command "
                    "again resumes from the last completed epoch), "
                    "checkpoints/latest.keras, logs/ (TensorBoard: losses, "
                    "teacher_forcing_ratio, attention images), model.keras and "
                    "export/ (SavedModel). Ctrl-C saves interrupted.keras and exits "
                    "with status 130.",
        epilog="configuration keys (also for --set):\n" + config_keys.TEXT
               + "\n\nExample:\n  keras-seq2seq train --config "
                 "examples/train_config.toml --epochs 20 --output runs/fra")
    parser.add_argument("--config", required=True, metavar="FILE.toml",
                        help="the training configuration (required)")
    parser.add_argument("--set", action="append", default=[], dest="overrides",
                        metavar="SECTION.KEY=VALUE",
                        help="override a configuration key; VALUE is read as TOML "
                             "(64, 0.5, true, \"gru\", {name=\"linear\", slope=1e-4}) "
                             "or else as a plain string; repeatable")
    parser.add_argument("--output", metavar="DIR",
                        help="output folder (overrides output.dir)")
    parser.add_argument("--epochs", type=positive_int, metavar="N",
                        help="training epochs (overrides training.epochs)")
    parser.add_argument("--batch-size", type=positive_int, metavar="N",
                        help="batch size (overrides training.batch_size)")
    parser.add_argument("--learning-rate", type=positive_float, metavar="LR",
                        help="Adam learning rate (overrides training.learning_rate)")
    parser.add_argument("--seed", type=non_negative_int, metavar="N",
                        help="random seed (overrides training.seed)")
    parser.add_argument("--no-export", action="store_true",
                        help="skip the SavedModel export (sets output.export = false)")
    parser.add_argument("--strategy", choices=STRATEGIES, default="default",
                        help="tf.distribute strategy: default (no distribution), "
                             "mirrored (all local GPUs) or one_device (the first GPU, "
                             "else the CPU); default: default")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                        help="Keras fit verbosity: 0 silent, 1 progress bar, 2 one "
                             "line per epoch (default: 1 in a terminal, else 2)")
    return parser


def run(args):
    from keras_seq2seq import config as config_lib
    from keras_seq2seq import training

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
    result = training.train_from_config(config, strategy=args.strategy,
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
