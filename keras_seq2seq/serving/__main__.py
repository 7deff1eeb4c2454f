"""`python -m keras_seq2seq.serving --model PATH ...`: `keras-seq2seq serve` itself."""

import argparse
import sys
import textwrap

from keras_seq2seq.cli import serve as command
from keras_seq2seq.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CLIError,
    Parser,
    print_error,
)


def main(argv=None):
    """Parses the `serve` arguments and runs the server; returns the exit status."""
    parser = Parser(prog="python -m keras_seq2seq.serving",
                    description=textwrap.fill(command.DESCRIPTION, width=79),
                    epilog=command.EPILOG,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return command.run(args) or 0
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (CLIError, ValueError, OSError) as error:
        print_error(error)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
