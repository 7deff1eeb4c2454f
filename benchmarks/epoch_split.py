"""Where an epoch's wall time goes: steps, input pipeline, validation, BLEU, saving.

    python benchmarks/epoch_split.py [--smoke] [--epochs 2] [--json PATH]
                                     [--data DIR] [translate_corpus.py options]

Trains the recommended recipe, exactly as `examples/translate_corpus.py` builds it
(`build_recipe`: SentencePiece tokenizers, the bucketed `tf.data` pipeline, the model,
and its callbacks `BleuCallback` on 500 validation sentences, `ModelCheckpoint` of the
best `val_bleu`, `TimeBudget`, `TimeWarmdown`), for `--epochs` epochs on Multi30k
(`--smoke`: a tiny synthetic corpus, seconds), and splits each epoch's wall time:

* steps: from each `on_train_batch_begin` to its `on_train_batch_end` (the training
  step, as Keras runs it);
* first batch wait: from `on_epoch_begin` to the first batch (the epoch's `tf.data`
  iterator starting: its shuffle buffer filling);
* input and per-batch overhead: the gaps between one batch's end and the next one's
  begin (waiting for the `tf.data` iterator, and the per-batch callbacks' work);
* after the last batch: its end to `on_test_begin` (Keras ending the epoch's loop);
* validation: `on_test_begin` to `on_test_end` (the `validation_data` pass);
* each callback's own `on_epoch_end` (BLEU decoding, checkpoint saving, ...), timed
  by wrapping it;
* the rest: the epoch's wall time (`on_epoch_begin` to the end of the last callback's
  `on_epoch_end`) minus all of the above.

The first epoch includes tracing; later epochs show the steady state.
"""

import argparse
import importlib.util
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def load_recipe_module():
    """`examples/translate_corpus.py` as a module (its `make_parser`, `build_recipe`)."""
    path = os.path.join(REPO, "examples", "translate_corpus.py")
    spec = importlib.util.spec_from_file_location("translate_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Clock:
    """Shared timings of one run: `epochs[i]` is a dict of seconds per part."""

    def __init__(self):
        self.epochs = []
        self.current = None
        self.mark = None

    def part(self, name, seconds):
        self.current[name] = self.current.get(name, 0.0) + seconds


def make_step_clock(clock):
    """The first callback: epoch boundaries, step times, gaps, validation."""
    import keras

    class StepClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            clock.current = {"epoch": epoch + 1, "started": time.perf_counter(),
                             "steps": 0, "batches": 0}
            clock.mark = None

        def on_train_batch_begin(self, batch, logs=None):
            now = time.perf_counter()
            if clock.mark is None:  # the epoch's iterator starting, first batch
                clock.part("first_batch_wait", now - clock.current["started"])
            else:
                clock.part("input_and_batch_overhead", now - clock.mark)
            clock.batch_started = now

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            clock.part("step", now - clock.batch_started)
            clock.current["batches"] += 1
            clock.mark = now

        def on_test_begin(self, logs=None):
            clock.test_started = time.perf_counter()
            clock.part("after_last_batch", clock.test_started - clock.mark)

        def on_test_end(self, logs=None):
            clock.part("validation", time.perf_counter() - clock.test_started)

    return StepClock()


def make_epoch_end(clock):
    """The last callback: closes the epoch's record."""
    import keras

    class EpochEnd(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            record = clock.current
            wall = time.perf_counter() - record.pop("started")
            parts = sum(v for k, v in record.items()
                        if k not in ("epoch", "steps", "batches"))
            record.update(wall=wall, rest=wall - parts,
                          val_bleu=(logs or {}).get("val_bleu"))
            record.pop("steps", None)
            clock.epochs.append(record)

    return EpochEnd()


def timed_callback(callback, clock, name):
    """`callback` with its `on_epoch_end` timed into `clock` as `name`."""
    original = callback.on_epoch_end

    def on_epoch_end(epoch, logs=None):
        start = time.perf_counter()
        original(epoch, logs)
        clock.part(name, time.perf_counter() - start)

    callback.on_epoch_end = on_epoch_end
    return callback


CALLBACK_NAMES = {"BleuCallback": "bleu_decoding", "ModelCheckpoint": "checkpoint_saving",
                  "TimeBudget": "time_budget", "TimeWarmdown": "warmdown",
                  "ReduceLROnPlateau": "reduce_lr"}


def smoke_corpus(n=400, seed=0):
    """A tiny word-reversal corpus (no files)."""
    import random

    rng = random.Random(seed)
    words = [f"w{i}" for i in range(40)]
    pairs = []
    for _ in range(n):
        sentence = [rng.choice(words) for _ in range(rng.randint(3, 8))]
        pairs.append((" ".join(sentence), " ".join(reversed(sentence))))
    split = int(0.9 * n)
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    return (sources[:split], targets[:split]), (sources[split:], targets[split:])


def table(epochs):
    parts = ["step", "first_batch_wait", "input_and_batch_overhead",
             "after_last_batch", "validation", "bleu_decoding", "checkpoint_saving",
             "rest"]
    lines = ["| epoch | wall s | " + " | ".join(parts) + " | batches |",
             "|---" * (len(parts) + 3) + "|"]
    for record in epochs:
        wall = record["wall"]
        cells = [f"{record.get(p, 0.0):.1f} ({record.get(p, 0.0) / wall:.0%})"
                 for p in parts]
        lines.append(f"| {record['epoch']} | {wall:.1f} | " + " | ".join(cells)
                     + f" | {record['batches']} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=True)
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny synthetic corpus and model (seconds)")
    parser.add_argument("--json", help="write the results as JSON to this path")
    known, rest = parser.parse_known_args(argv)
    from benchmarks import common

    recipe_module = load_recipe_module()
    defaults = ["--data", os.path.join(REPO, "..", "shared", "data", "multi30k"),
                "--epochs", "2", "--output", tempfile.mkdtemp(prefix="epoch_split_")]
    if known.smoke:
        defaults += ["--vocabulary-size", "60", "--embedding-dim", "8", "--units", "16",
                     "--batch-size", "32", "--epochs", "2"]
    args = recipe_module.make_parser().parse_args(defaults + rest)
    if known.smoke:
        train, validation = smoke_corpus()
    else:
        train, validation, _ = recipe_module.load_corpus(
            args.data, args.source_lang, args.target_lang, args.seed)
    import keras

    from keras_seq2seq import precision

    policy, reason = precision.apply_precision(args.precision)
    keras.utils.set_random_seed(args.seed)
    recipe = recipe_module.build_recipe(args, train, validation)
    clock = Clock()
    callbacks = [make_step_clock(clock)]
    for callback in recipe["callbacks"]:
        name = CALLBACK_NAMES.get(type(callback).__name__, type(callback).__name__)
        callbacks.append(timed_callback(callback, clock, name))
    callbacks.append(make_epoch_end(clock))
    started = time.perf_counter()
    recipe["model"].fit(recipe["dataset"], validation_data=recipe["validation_data"],
                        epochs=args.epochs, callbacks=callbacks, verbose=0)
    results = {"command": common.command_line("epoch_split.py", argv),
               "meta": common.machine_info(), "policy": policy,
               "policy_reason": reason, "smoke": known.smoke,
               "seconds": time.perf_counter() - started, "epochs": clock.epochs,
               "args": {k: v for k, v in vars(args).items() if k != "output"}}
    print(f"Epoch time split ({policy}; {results['meta'].get('cpu', '')}):\n")
    print(table(clock.epochs))
    common.write_json(known.json, results)
    return results


if __name__ == "__main__":
    main()
