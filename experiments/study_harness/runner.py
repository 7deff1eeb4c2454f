"""Running the study: one model per (regime, seed), the same budget for each.

`run_study` calibrates the step time (to plan the decays), runs every regime for
every seed (`run_regime`) and writes the report (`report.write_report`).
"""

import datetime
import os
import platform
import sys
import time
import warnings

import keras
import tensorflow as tf

from keras_seq2seq import schedules
from keras_seq2seq.callbacks import TeacherForcingSwitch
from keras_seq2seq.models import Seq2Seq

from .monitor import CLOCKS, HeldOutEvaluator, StudyMonitor, sequence_quality
from .regimes import Regime, default_regimes
from .report import summarize, write_report
from .tasks import prepare_task

__all__ = ["build_model", "calibrate_step_seconds", "configure_threads", "run_regime",
           "run_study"]


def build_model(data, regime, seed=0, planned_steps=1000, final_ratio=0.1,
                model_options=None):
    """The study's `Seq2Seq` for `regime` (weights drawn from `seed`)."""
    options = dict(data.model_options)
    options.update(model_options or {})
    if regime.mode is not None:
        options["teacher_forcing_mode"] = regime.mode
    keras.utils.set_random_seed(seed)
    return Seq2Seq(
        data.source_tokenizer.vocabulary_size, data.target_tokenizer.vocabulary_size,
        teacher_forcing=regime.make_schedule(planned_steps, final_ratio),
        teacher_forcing_granularity=regime.granularity,
        teacher_forcing_feedback=regime.feedback, seed=seed,
        source_tokenizer=data.source_tokenizer,
        target_tokenizer=data.target_tokenizer, name="study_seq2seq", **options)


def calibrate_step_seconds(data, steps=30, seed=0, clock="process", model_options=None):
    """Clock seconds per training step of the scheduled-sampling path.

    Trains a throw-away model at a constant ratio of 0.5 drawn per token (the
    step-by-step decoder loop, the slowest path the decaying regimes take) for one
    untimed step and `steps` timed ones.
    """
    regime = Regime("calibration", 0.5, "token")
    model = build_model(data, regime, seed=seed, model_options=model_options)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    dataset = data.train_dataset(seed).repeat()
    model.fit(dataset, steps_per_epoch=1, epochs=1, verbose=0)
    tick = CLOCKS[clock]
    start = tick()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = (tick() - start) / steps
    del model
    keras.backend.clear_session()
    return seconds


def run_regime(data, regime, seed=0, budget_seconds=60.0, eval_every_steps=100,
               planned_steps=1000, final_ratio=0.1, max_steps=None, clock="process",
               learning_rate=3e-3, model_options=None, verbose=0, clipnorm=None):
    """Trains and evaluates one (regime, seed); returns its record (JSON-ready)."""
    keras.backend.clear_session()
    model = build_model(data, regime, seed=seed, planned_steps=planned_steps,
                        final_ratio=final_ratio, model_options=model_options)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=clipnorm))
    callbacks = []
    if regime.switch is not None:
        callbacks.append(TeacherForcingSwitch(verbose=0, **regime.switch))
    monitor = StudyMonitor(HeldOutEvaluator(model, data), eval_every_steps,
                           budget_seconds, max_steps=max_steps, clock=clock,
                           verbose=verbose, label=f"[{regime.name} seed {seed}]")
    callbacks.append(monitor)
    started = time.perf_counter()
    model.fit(data.train_dataset(seed), epochs=10 ** 9, callbacks=callbacks, verbose=0)
    wall = time.perf_counter() - started
    test_quality = sequence_quality(model, data.test_sources, data.test_references,
                                    data.metric)
    final = monitor.records[-1]
    result = {
        "regime": regime.name,
        "seed": seed,
        "schedule": schedules.serialize(model.teacher_forcing),
        "steps": final["step"],
        "train_seconds": final["train_seconds"],
        "first_step_seconds": round(monitor.first_step_seconds or 0.0, 3),
        "eval_seconds": round(monitor.eval_seconds, 3),
        "wall_seconds": round(wall, 3),
        "switch_step": monitor.switch_step,
        "final": final,
        "best": max(r[data.metric] for r in monitor.records),
        f"test_{data.metric}": test_quality,
        "curve": monitor.records,
    }
    if verbose:
        print(f"[{regime.name} seed {seed}] done: {final['step']} steps, "
              f"{data.metric} {final[data.metric]:.4f} (best {result['best']:.4f}, "
              f"test {test_quality:.4f}), wall {wall:.0f}s", flush=True)
    del model
    keras.backend.clear_session()
    return result


def configure_threads(threads):
    """Sets TensorFlow's intra- and inter-op thread counts (before TF starts)."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads))
        return True
    except RuntimeError as error:
        warnings.warn(f"Could not set TensorFlow threads to {threads}: {error}",
                      stacklevel=2)
        return False


def _load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None


def run_study(regimes=None, task="dates", seeds=(0,), budget_seconds=60.0,
              output_dir="docs/teacher_forcing", eval_every_steps=100,
              planned_steps=None, final_ratio=0.1, max_steps=None, clock="process",
              learning_rate=3e-3, task_options=None, model_options=None,
              calibration_steps=30, threads=None, target_quality=None, command=None,
              verbose=1, data=None, clipnorm=None):
    """Runs every regime for every seed and writes the report.

    Args:
        regimes: `Regime`s, or names of `default_regimes()` (None: all of them).
        task: "dates" or "multi30k" (see `prepare_task`).
        seeds: model seeds (initial weights, batch order, coin tosses); the data
            are the same for every seed.
        budget_seconds: training seconds per (regime, seed), on `clock`.
        output_dir: where `results.json`, `results.md` and the PNGs go (None: write
            nothing).
        eval_every_steps: optimizer steps between evaluations.
        planned_steps: the step count the decays are planned over; None measures
            the seconds per step (`calibrate_step_seconds`) and uses
            `budget_seconds / seconds_per_step`.
        final_ratio: the ratio the decays reach at `planned_steps`.
        max_steps: optional cap on the steps of every run.
        clock: "process" (CPU seconds; the default) or "wall".
        learning_rate: Adam's learning rate (3e-3 suits the date task; for Multi30k
            the script uses 2e-3 with `clipnorm=5`, batch 128 and SentencePiece:
            `teacher_forcing_study.MULTI30K_DEFAULTS`).
        task_options: keyword arguments of `prepare_task`.
        model_options: overrides of the task's model settings (`Seq2Seq` kwargs).
        calibration_steps: timed steps of the calibration.
        threads: if given, TensorFlow's intra/inter-op threads (must be set
            before TensorFlow starts; a warning says when it is too late).
        target_quality: the table reports the training seconds to reach it
            (default 0.9 exact match or 20 BLEU).
        command: the command line to record in the report.
        verbose: print progress.
        data: a prepared `TaskData` (overrides `task` / `task_options`).
        clipnorm: if given, Adam clips each gradient to this norm (`clipnorm`).

    Returns:
        The results dict written to `results.json`.
    """
    if threads is not None:
        configure_threads(threads)
    regimes = _resolve(regimes)
    started = time.perf_counter()
    load_before = _load_average()
    if data is None:
        data = prepare_task(task, **(task_options or {}))
    calibration = None
    if planned_steps is None:
        seconds_per_step = calibrate_step_seconds(
            data, steps=calibration_steps, seed=seeds[0], clock=clock,
            model_options=model_options)
        planned_steps = max(1, int(budget_seconds / seconds_per_step))
        calibration = {"seconds_per_step": seconds_per_step, "steps": calibration_steps,
                       "path": "constant 0.5 per token (step-by-step decoder loop)"}
        if verbose:
            print(f"Calibration: {seconds_per_step * 1000:.1f} ms ({clock} clock) per "
                  f"scheduled step -> decays planned over {planned_steps} steps",
                  flush=True)
    if target_quality is None:
        target_quality = 0.9 if data.metric == "exact_match" else 20.0
    runs = []
    for regime in regimes:
        for seed in seeds:
            runs.append(run_regime(
                data, regime, seed=seed, budget_seconds=budget_seconds,
                eval_every_steps=eval_every_steps, planned_steps=planned_steps,
                final_ratio=final_ratio, max_steps=max_steps, clock=clock,
                learning_rate=learning_rate, model_options=model_options,
                verbose=verbose, clipnorm=clipnorm))
    model_settings = dict(data.model_options)
    model_settings.update(model_options or {})
    results = {
        "config": {
            "task": data.name,
            "task_info": data.info,
            "metric": data.metric,
            "seeds": list(seeds),
            "budget_seconds": budget_seconds,
            "clock": clock,
            "eval_every_steps": eval_every_steps,
            "planned_steps": planned_steps,
            "final_ratio": final_ratio,
            "max_steps": max_steps,
            "learning_rate": learning_rate,
            "clipnorm": clipnorm,
            "batch_size": data.batch_size,
            "steps_per_epoch": data.steps_per_epoch,
            "model": model_settings,
            "target_quality": target_quality,
            "calibration": calibration,
            "regimes": [r.to_json() for r in regimes],
        },
        "environment": _environment(command, started, load_before),
        "runs": runs,
    }
    results["summary"] = summarize(results)
    if output_dir is not None:
        write_report(results, output_dir)
    return results


def _resolve(regimes):
    """`Regime`s from `Regime`s and names of `default_regimes()` (None: all)."""
    if regimes is None:
        return default_regimes()
    by_name = {r.name: r for r in default_regimes()}
    resolved = []
    for regime in regimes:
        if isinstance(regime, str):
            if regime not in by_name:
                raise ValueError(f"Unknown regime {regime!r}. Expected one of "
                                 f"{sorted(by_name)}.")
            regime = by_name[regime]
        resolved.append(regime)
    return resolved


def _environment(command, started, load_before):
    """Where and how the study ran (the report's "machine" line)."""
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join(sys.argv),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "cpu_count": os.cpu_count(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "load_average_before": load_before,
        "load_average_after": _load_average(),
        "total_wall_seconds": round(time.perf_counter() - started, 1),
    }
