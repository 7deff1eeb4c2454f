"""Teacher-forcing study: the same model, data, seed and time budget per regime.

    python examples/teacher_forcing_study.py --smoke                  # < 5 min, all regimes
    python examples/teacher_forcing_study.py --seeds 0 1 2 --budget-seconds 70
    python examples/teacher_forcing_study.py --task multi30k --budget-seconds 600
    keras-seq2seq study --smoke                                      # the same, from the CLI

Trains one small attention GRU per (regime, seed) on the synthetic date task (or
Multi30k De->En), evaluating every --eval-every steps on a fixed held-out set:
teacher-forced and free-running token accuracy, their gap, greedy free-running exact
match (BLEU for Multi30k) and the teacher-forcing ratio in use. Writes results.json,
results.md and PNG plots into --output. The plumbing is `keras_seq2seq.study`; the
flags are `keras_seq2seq.study_command`'s, shared with `keras-seq2seq study`.

The budget is per (regime, seed) in CPU seconds of this process by default
(--clock process), so that other jobs on a shared machine do not cut one regime's
training shorter than another's; --clock wall uses wall-clock seconds. TensorFlow runs
on --threads threads (1 by default: the model is small, and one thread keeps the
CPU clock close to the wall clock on an idle core).

Full date study by design: 10 regimes (9 without the parallel mode) x 3 seeds x 70 s
budget + about 10 s of tracing and evaluation per run: about 40 minutes on an idle
machine (one thread, so the other core stays free).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_seq2seq import study_command  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    return study_command.add_arguments(parser, default_output="study_output")


def main(argv=None):
    args = build_parser().parse_args(argv)
    command = "python " + " ".join(
        [sys.argv[0]] + list(argv if argv is not None else sys.argv[1:]))
    try:
        return study_command.run_from_args(args, command=command)
    except ValueError as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
