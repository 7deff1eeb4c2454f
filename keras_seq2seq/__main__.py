"""`python -m keras_seq2seq`: the `keras-seq2seq` command line."""

import sys

from keras_seq2seq.cli import main

if __name__ == "__main__":
    sys.exit(main())
