"""Teacher-forcing study: the same model, data, seed and time budget per regime.

    python experiments/teacher_forcing_study.py --smoke              # < 5 min, all regimes
    python experiments/teacher_forcing_study.py --seeds 0 1 2 --budget-seconds 70
    python experiments/teacher_forcing_study.py --task multi30k --budget-seconds 600

Trains one small attention GRU per (regime, seed) on the synthetic date task (or
Multi30k De->En), evaluating every --eval-every steps on a fixed held-out set:
teacher-forced and free-running token accuracy, their gap, greedy free-running exact
match (BLEU for Multi30k) and the teacher-forcing ratio in use. Writes results.json,
results.md and PNG plots into --output. The harness is `study_harness` (this
folder); docs/teacher_forcing.md has the design and the results.

The budget is per (regime, seed) in CPU seconds of this process by default
(--clock process), so that other jobs on a shared machine do not cut one regime's
training shorter than another's; --clock wall uses wall-clock seconds. TensorFlow runs
on --threads threads (1 by default: the model is small, and one thread keeps the
CPU clock close to the wall clock on an idle core).

Full date study by design: 10 regimes x 3 seeds x 70 s budget + about 10 s of
tracing and evaluation per run: about 40 minutes on an idle machine (one thread, so
the other core stays free). A mistake in the flags prints one line
`teacher_forcing_study.py: error: ...` and exits with status 2.
"""

import argparse
import os
import shlex
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_seq2seq.cli.common import (  # noqa: E402
    EXIT_USAGE,
    Parser,
    non_negative_float,
    number_type,
    positive_float,
    positive_int,
    print_error,
)

NAME = "teacher_forcing_study.py"
TASKS = ("dates", "multi30k")

DATES_DEFAULTS = dict(budget_seconds=70.0, learning_rate=3e-3, clipnorm=None,
                      batch_size=64, tokenizer=None)
"""`--task dates`'s defaults (the tokenizer is the task's own: characters)."""

MULTI30K_DEFAULTS = dict(budget_seconds=2400.0, learning_rate=2e-3, clipnorm=5.0,
                         batch_size=128, tokenizer="sentencepiece")
"""`--task multi30k`'s defaults: the settings that leave the constant-output plateau
with `study_harness.MULTI30K_MODEL` (docs/teacher_forcing.md, "Multi30k"); the date
task's do not. `run_study` itself takes them as arguments."""

ratio = number_type(float, lambda value: 0.0 <= value <= 1.0, "a number in [0, 1]")


class StudyParser(Parser):
    """One-line argument errors that name this script."""

    name = NAME


def add_arguments(parser, default_output="study_output"):
    """Adds the study's flags to an `argparse` parser; returns `parser`."""
    parser.add_argument("--smoke", action="store_true",
                        help="every regime on a tiny budget (6 s each; about 2 CPU "
                             "minutes in all)")
    parser.add_argument("--task", choices=TASKS, default="dates",
                        help="the date task (built in) or Multi30k De->En (needs "
                             "--data-dir or ../shared/data/multi30k)")
    parser.add_argument("--budget-seconds", type=positive_float, default=None,
                        metavar="S",
                        help="training seconds per regime and seed (dates default 70, "
                             "smoke 6, multi30k 2400)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, metavar="N",
                        help="model seeds (default 0 1 2; smoke: 0)")
    parser.add_argument("--regimes", nargs="+", default=None, metavar="NAME",
                        help="a subset of the regime names (default: all; see "
                             "docs/teacher_forcing.md)")
    parser.add_argument("--output", default=default_output, metavar="DIR",
                        help="output folder for results.json, results.md and the "
                             f"PNG plots (default: {default_output})")
    parser.add_argument("--eval-every", type=positive_int, default=None, metavar="N",
                        help="optimizer steps between evaluations (default 100; "
                             "smoke: 50; multi30k: 500)")
    parser.add_argument("--train-size", type=positive_int, default=None, metavar="N",
                        help="training pairs (dates default 3000; multi30k: all)")
    parser.add_argument("--eval-size", type=positive_int, default=None, metavar="N",
                        help="held-out pairs per evaluation (default 500)")
    parser.add_argument("--test-size", type=positive_int, default=None, metavar="N",
                        help="pairs scored once at the end (default 1000)")
    parser.add_argument("--units", type=positive_int, default=None, metavar="N",
                        help="encoder/decoder GRU units (dates default 32, "
                             "multi30k 512)")
    parser.add_argument("--embedding-dim", type=positive_int, default=None,
                        metavar="N", help="embedding size (dates default 16, "
                                          "multi30k 256)")
    parser.add_argument("--learning-rate", type=positive_float, default=None,
                        metavar="LR", help="Adam learning rate (dates default 3e-3, "
                                           "multi30k 2e-3)")
    parser.add_argument("--clipnorm", type=non_negative_float, default=None,
                        metavar="C", help="clip each gradient to norm C; 0: no clipping "
                                          "(dates default 0, multi30k 5)")
    parser.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                        help="training pairs per batch (dates default 64, multi30k 128)")
    parser.add_argument("--planned-steps", type=positive_int, default=None,
                        metavar="N",
                        help="steps the decays are planned over (default: from the "
                             "budget and a short calibration)")
    parser.add_argument("--final-ratio", type=ratio, default=0.1, metavar="R",
                        help="the ratio the decays reach at the planned step count")
    parser.add_argument("--switch-threshold", type=ratio, default=0.9, metavar="A",
                        help="training accuracy that fires TeacherForcingSwitch")
    parser.add_argument("--max-steps", type=positive_int, default=None, metavar="N",
                        help="stop each run after N steps even if budget is left")
    parser.add_argument("--clock", choices=("process", "wall"), default="process",
                        help="what the budget counts: CPU seconds of this process "
                             "(default) or wall-clock seconds")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="TensorFlow intra/inter-op threads (default 1; 0: "
                             "TensorFlow's default)")
    parser.add_argument("--tokenizer", choices=("word", "sentencepiece"),
                        default=None,
                        help="multi30k tokenizer (default sentencepiece)")
    parser.add_argument("--vocabulary-size", type=positive_int, default=8000,
                        metavar="N", help="multi30k vocabulary size per side")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="multi30k folder (default ../shared/data/multi30k)")
    parser.add_argument("--quiet", action="store_true",
                        help="no line per evaluation")
    return parser


def build_parser():
    """The script's parser (one-line errors, exit status 2)."""
    parser = StudyParser(prog=NAME, description=__doc__.splitlines()[0],
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    return add_arguments(parser)


def settings_from_args(args):
    """The `run_study` keyword arguments that the parsed flags stand for.

    Args:
        args: an `argparse.Namespace` from a parser given `add_arguments`.

    Returns:
        `dict` with `regime_names` (or `None`) and `run_study`'s keyword arguments
        `task, seeds, budget_seconds, output_dir, eval_every_steps, planned_steps,
        final_ratio, max_steps, clock, learning_rate, clipnorm, task_options,
        model_options`.
    """
    dates = args.task == "dates"
    smoke = args.smoke
    # Multi30k's defaults are the settings that leave the constant-output plateau
    # (docs/teacher_forcing.md, "Multi30k"): the date task's would not.
    defaults = DATES_DEFAULTS if dates else MULTI30K_DEFAULTS
    task_options = {"batch_size": args.batch_size or defaults["batch_size"]}
    if dates:
        task_options.update(train_size=args.train_size or (1000 if smoke else 3000),
                            eval_size=args.eval_size or (200 if smoke else 500),
                            test_size=args.test_size or (200 if smoke else 1000))
    else:
        task_options.update(train_size=args.train_size or (2000 if smoke else None),
                            eval_size=args.eval_size or (100 if smoke else 500),
                            test_size=args.test_size or (100 if smoke else 1000),
                            tokenizer=args.tokenizer or defaults["tokenizer"],
                            vocabulary_size=args.vocabulary_size,
                            data_dir=args.data_dir)
    model_options = {}
    if args.units:
        model_options["units"] = args.units
    if args.embedding_dim:
        model_options["embedding_dim"] = args.embedding_dim
    return dict(
        regime_names=args.regimes,
        task=args.task,
        seeds=tuple(args.seeds or ((0,) if smoke else (0, 1, 2))),
        budget_seconds=args.budget_seconds or (6.0 if smoke
                                               else defaults["budget_seconds"]),
        output_dir=args.output,
        eval_every_steps=args.eval_every or (50 if smoke else 100 if dates else 500),
        planned_steps=args.planned_steps,
        final_ratio=args.final_ratio,
        max_steps=args.max_steps,
        clock=args.clock,
        learning_rate=args.learning_rate or defaults["learning_rate"],
        # --clipnorm 0 turns clipping off.
        clipnorm=(defaults["clipnorm"] if args.clipnorm is None
                  else args.clipnorm or None),
        task_options=task_options,
        model_options=model_options,
    )


def run_from_args(args, command=None):
    """Runs the study the parsed flags describe and prints its table.

    Args:
        args: an `argparse.Namespace` from a parser given `add_arguments`.
        command: the command line to record in `results.json` (`str`).

    Returns:
        The `run_study` results (`dict`).

    Raises:
        ValueError: an unknown regime name (the message lists the valid ones).
    """
    import study_harness as study

    settings = settings_from_args(args)
    regimes = study.default_regimes(switch_threshold=args.switch_threshold)
    names = settings.pop("regime_names")
    if names:
        by_name = {r.name: r for r in regimes}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise ValueError(f"unknown regime(s) {unknown} in --regimes; choose from "
                             f"{sorted(by_name)}")
        regimes = [by_name[name] for name in names]
    if args.threads:  # before any TensorFlow op runs
        study.configure_threads(args.threads)
    print(f"{len(regimes)} regimes x {len(settings['seeds'])} seed(s), "
          f"{settings['budget_seconds']:g} s ({args.clock} clock) each, evaluation "
          f"every {settings['eval_every_steps']} steps -> {args.output}", flush=True)
    started = time.perf_counter()
    results = study.run_study(regimes, command=command,
                              verbose=0 if args.quiet else 1, **settings)
    print()
    print(study.results_table(results))
    print(f"\nWrote {args.output}/results.json, results.md and PNGs in "
          f"{time.perf_counter() - started:.0f} s.")
    return results


def main(argv=None):
    """Runs the script; returns the exit status (2: a mistake, printed as one line)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    command = shlex.join(["python", os.path.relpath(__file__), *argv])
    try:
        run_from_args(args, command=command)
    except ValueError as error:
        print_error(error, name=NAME)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
