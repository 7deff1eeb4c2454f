"""Command-line front end of the teacher-forcing study (`keras_seq2seq.study`).

Shared by `keras-seq2seq study` and `examples/teacher_forcing_study.py`: both take
the same flags (`add_arguments`) and run the same function (`run_from_args`), which
sets TensorFlow's thread count (`--threads`) before any TensorFlow op runs.
"""

import argparse
import time

from keras_seq2seq.cli import _non_negative_float, _positive_float, _positive_int

__all__ = ["add_arguments", "run_from_args", "settings_from_args"]

TASKS = ("dates", "multi30k")

DATES_DEFAULTS = dict(budget_seconds=70.0, learning_rate=3e-3, clipnorm=None,
                      batch_size=64, tokenizer=None)
"""`--task dates`'s defaults (the tokenizer is the task's own: characters)."""

MULTI30K_DEFAULTS = dict(budget_seconds=2400.0, learning_rate=2e-3, clipnorm=5.0,
                         batch_size=128, tokenizer="sentencepiece")
"""`--task multi30k`'s defaults: the settings that leave the constant-output plateau
with `study.MULTI30K_MODEL` (docs/teacher_forcing.md, "Multi30k"); the date task's
do not. `run_study` itself takes them as arguments."""


def _ratio(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: expected a number "
                                         "in [0, 1]")
    return value


def add_arguments(parser, default_output="study_output"):
    """Adds the study's flags to an `argparse` parser.

    Args:
        parser: an `argparse.ArgumentParser` (or a subcommand's parser).
        default_output: the default of `--output`.

    Returns:
        `parser`.
    """
    parser.add_argument("--smoke", action="store_true",
                        help="every regime on a tiny budget (6 s each; about 2 CPU "
                             "minutes in all)")
    parser.add_argument("--task", choices=TASKS, default="dates",
                        help="the date task (built in) or Multi30k De->En (needs "
                             "--data-dir or ../shared/data/multi30k)")
    parser.add_argument("--budget-seconds", type=_positive_float, default=None,
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
    parser.add_argument("--eval-every", type=_positive_int, default=None, metavar="N",
                        help="optimizer steps between evaluations (default 100; "
                             "smoke: 50; multi30k: 500)")
    parser.add_argument("--train-size", type=_positive_int, default=None, metavar="N",
                        help="training pairs (dates default 3000; multi30k: all)")
    parser.add_argument("--eval-size", type=_positive_int, default=None, metavar="N",
                        help="held-out pairs per evaluation (default 500)")
    parser.add_argument("--test-size", type=_positive_int, default=None, metavar="N",
                        help="pairs scored once at the end (default 1000)")
    parser.add_argument("--units", type=_positive_int, default=None, metavar="N",
                        help="encoder/decoder GRU units (dates default 32, "
                             "multi30k 512)")
    parser.add_argument("--embedding-dim", type=_positive_int, default=None,
                        metavar="N", help="embedding size (dates default 16, "
                                          "multi30k 256)")
    parser.add_argument("--learning-rate", type=_positive_float, default=None,
                        metavar="LR", help="Adam learning rate (dates default 3e-3, "
                                           "multi30k 2e-3)")
    parser.add_argument("--clipnorm", type=_non_negative_float, default=None,
                        metavar="C", help="clip each gradient to norm C; 0: no clipping "
                                          "(dates default 0, multi30k 5)")
    parser.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                        help="training pairs per batch (dates default 64, multi30k 128)")
    parser.add_argument("--planned-steps", type=_positive_int, default=None,
                        metavar="N",
                        help="steps the decays are planned over (default: from the "
                             "budget and a short calibration)")
    parser.add_argument("--final-ratio", type=_ratio, default=0.1, metavar="R",
                        help="the ratio the decays reach at the planned step count")
    parser.add_argument("--switch-threshold", type=_ratio, default=0.9, metavar="A",
                        help="training accuracy that fires TeacherForcingSwitch")
    parser.add_argument("--max-steps", type=_positive_int, default=None, metavar="N",
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
    parser.add_argument("--vocabulary-size", type=_positive_int, default=8000,
                        metavar="N", help="multi30k vocabulary size per side")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="multi30k folder (default ../shared/data/multi30k)")
    parser.add_argument("--quiet", action="store_true",
                        help="no line per evaluation")
    return parser


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
    settings = settings_from_args(args)
    if args.threads:
        from keras_seq2seq.study import configure_threads

        configure_threads(args.threads)
    from keras_seq2seq import study

    names = settings.pop("regime_names")
    if names:
        by_name = {r.name: r for r in study.default_regimes(
            switch_threshold=args.switch_threshold, include_parallel=True)}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise ValueError(f"unknown regime(s) {unknown} in --regimes; choose from "
                             f"{sorted(by_name)}")
        regimes = [by_name[name] for name in names]
    else:
        regimes = study.default_regimes(switch_threshold=args.switch_threshold)
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
