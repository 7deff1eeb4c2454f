"""The `keras-seq2seq` command line (also `python -m keras_seq2seq`).

Subcommands: `demo`, `train`, `evaluate`, `translate`, `score`, `serve`, `export`,
`plot-attention`;
`keras-seq2seq COMMAND --help` documents each. One module a command
(`keras_seq2seq.cli.demo`, `.train`, `.evaluate`, `.translate`, `.score`, `.serve`, `.export`,
`.plot_attention`), each with `add_parser(commands)`, which builds its subparser,
and `run(args)`; `keras_seq2seq.cli.common` holds what they share. The commands only
parse their arguments, call the package (`keras_seq2seq.demo`, `config`, `training`,
`saving`, `export`, `evaluation`, `plotting`) and print.

A user mistake (a missing file, a bad configuration, a path that is not a model, a bad
value) prints one line `keras-seq2seq: error: <cause>` on stderr and exits with
status 2; Ctrl-C exits with status 130.

The teacher-forcing study is not a command of the package: it is the experiment
`experiments/teacher_forcing_study.py` of the source repository, and
`keras-seq2seq study` says so (exit status 2).
"""

import argparse
import contextlib
import os
import sys

from keras_seq2seq.cli import (
    demo,
    evaluate,
    export,
    plot_attention,
    score,
    serve,
    train,
    translate,
)
from keras_seq2seq.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    CLIError,
    Parser,
    print_error,
)

__all__ = ["COMMANDS", "CLIError", "build_parser", "main"]

COMMANDS = (demo, train, evaluate, translate, score, serve, export, plot_attention)
"""The command modules, in the order `--help` lists them."""

MOVED = {
    "study": "the teacher-forcing study is no longer a command of the package: it is "
             "an experiment of the source repository; run `python "
             "experiments/teacher_forcing_study.py --smoke` (same flags) from a "
             "checkout, see docs/teacher_forcing.md",
}
"""Former commands, with the one line that says where they went."""


def build_parser():
    """The `argparse` parser of `keras-seq2seq` and its subcommands."""
    from keras_seq2seq import __version__

    parser = Parser(
        prog=PROG,
        description="Attention RNN encoder-decoders (Keras 3): train, evaluate, "
                    "translate, export\nand inspect attention.",
        epilog=f"Example:\n  {PROG} demo && {PROG} translate --model "
               f"demo_output/dates.keras \"3 March 2023\"\n\n"
               f"Run `{PROG} COMMAND --help` for the options of a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(commands).set_defaults(func=command.run)
    return parser


def main(argv=None):
    """Runs the command line; returns the exit status.

    Args:
        argv: the arguments (default: `sys.argv[1:]`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in MOVED:
        print_error(CLIError(MOVED[argv[0]]))
        return EXIT_USAGE
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from keras_seq2seq.training import TrainingInterrupted

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
        print_error(error)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
