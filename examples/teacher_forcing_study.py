"""Teacher-forcing study: the same model, data, seed and time budget per regime.

    python examples/teacher_forcing_study.py --smoke                  # < 5 min, all regimes
    python examples/teacher_forcing_study.py --seeds 0 1 2 --budget-seconds 70
    python examples/teacher_forcing_study.py --task multi30k --budget-seconds 600

Trains one small attention GRU per (regime, seed) on the synthetic date task (or
Multi30k De->En), evaluating every --eval-every steps on a fixed held-out set:
teacher-forced and free-running token accuracy, their gap, greedy free-running exact
match (BLEU for Multi30k) and the teacher-forcing ratio in use. Writes results.json,
results.md and PNG plots into --output. The plumbing is `keras_seq2seq.study`.

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
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true",
                        help="all regimes on a tiny budget (a few minutes in all)")
    parser.add_argument("--task", choices=("dates", "multi30k"), default="dates")
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help="training seconds per regime and seed (default 70; "
                             "smoke: 6)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="model seeds (default 0 1 2; smoke: 0)")
    parser.add_argument("--regimes", nargs="+", default=None,
                        help="subset of regime names (default: all)")
    parser.add_argument("--output", default="docs/teacher_forcing",
                        help="output folder (results.json, results.md, PNGs)")
    parser.add_argument("--eval-every", type=int, default=None,
                        help="optimizer steps between evaluations (default 100; "
                             "smoke: 50; multi30k: 500)")
    parser.add_argument("--train-size", type=int, default=None,
                        help="training pairs (dates default 3000; multi30k: all)")
    parser.add_argument("--eval-size", type=int, default=None,
                        help="held-out pairs per evaluation (default 500)")
    parser.add_argument("--test-size", type=int, default=None,
                        help="pairs scored once at the end (default 1000)")
    parser.add_argument("--units", type=int, default=None,
                        help="decoder/encoder GRU units (dates default 32)")
    parser.add_argument("--embedding-dim", type=int, default=None)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--planned-steps", type=int, default=None,
                        help="steps the decays are planned over (default: measured "
                             "from the budget and a short calibration)")
    parser.add_argument("--final-ratio", type=float, default=0.1,
                        help="the ratio the decays reach at the planned step count")
    parser.add_argument("--switch-threshold", type=float, default=0.9,
                        help="training accuracy that fires TeacherForcingSwitch")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--clock", choices=("process", "wall"), default="process")
    parser.add_argument("--threads", type=int, default=1,
                        help="TensorFlow intra/inter-op threads (0: TF's default)")
    parser.add_argument("--tokenizer", choices=("word", "sentencepiece"),
                        default="word", help="multi30k tokenizer")
    parser.add_argument("--vocabulary-size", type=int, default=8000,
                        help="multi30k vocabulary size per side")
    parser.add_argument("--data-dir", default=None,
                        help="multi30k folder (default ../shared/data/multi30k)")
    parser.add_argument("--quiet", action="store_true")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    from keras_seq2seq import study

    dates = args.task == "dates"
    smoke = args.smoke
    budget = args.budget_seconds or (6.0 if smoke else 70.0 if dates else 600.0)
    seeds = tuple(args.seeds or ((0,) if smoke else (0, 1, 2)))
    eval_every = args.eval_every or (50 if smoke else 100 if dates else 500)
    task_options = {"batch_size": args.batch_size}
    if dates:
        task_options["train_size"] = args.train_size or (1000 if smoke else 3000)
        task_options["eval_size"] = args.eval_size or (200 if smoke else 500)
        task_options["test_size"] = args.test_size or (200 if smoke else 1000)
    else:
        task_options.update(train_size=args.train_size or (2000 if smoke else None),
                            eval_size=args.eval_size or (100 if smoke else 500),
                            test_size=args.test_size or (100 if smoke else 1000),
                            tokenizer=args.tokenizer,
                            vocabulary_size=args.vocabulary_size,
                            data_dir=args.data_dir)
    model_options = {}
    if args.units:
        model_options["units"] = args.units
    if args.embedding_dim:
        model_options["embedding_dim"] = args.embedding_dim
    regimes = study.default_regimes(switch_threshold=args.switch_threshold)
    if args.regimes:
        by_name = {r.name: r for r in study.default_regimes(
            switch_threshold=args.switch_threshold, include_parallel=True)}
        unknown = [name for name in args.regimes if name not in by_name]
        if unknown:
            raise SystemExit(f"Unknown regime(s) {unknown}; choose from {sorted(by_name)}")
        regimes = [by_name[name] for name in args.regimes]
    if not study.parallel_mode_available():
        print("Note: Seq2Seq has no teacher_forcing_mode argument in this version; the "
              "'parallel' regime is not run.")
    print(f"{len(regimes)} regimes x {len(seeds)} seed(s), {budget:g} s ({args.clock} "
          f"clock) each, evaluation every {eval_every} steps -> {args.output}",
          flush=True)
    started = time.perf_counter()
    results = study.run_study(
        regimes, task=args.task, seeds=seeds, budget_seconds=budget,
        output_dir=args.output, eval_every_steps=eval_every,
        planned_steps=args.planned_steps, final_ratio=args.final_ratio,
        max_steps=args.max_steps, clock=args.clock, learning_rate=args.learning_rate,
        task_options=task_options, model_options=model_options,
        command="python " + " ".join([sys.argv[0]] + list(argv if argv is not None
                                                            else sys.argv[1:])),
        verbose=0 if args.quiet else 1)
    print()
    print(study.results_table(results))
    print(f"\nWrote {args.output}/results.json, results.md and PNGs in "
          f"{time.perf_counter() - started:.0f} s.")
    return results


if __name__ == "__main__":
    main()
