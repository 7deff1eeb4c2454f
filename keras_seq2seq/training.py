"""Training from a configuration: what `keras-seq2seq train` does.

`train_from_config(config)` takes a configuration from `keras_seq2seq.config.
load_config`, reads the corpus, builds the tokenizers and the model, trains with
checkpoints, TensorBoard logs and resumption, and saves the `.keras` model and the
SavedModel export. Its steps are public: `load_corpus`, `split_validation`,
`build_tokenizers`, `build_model`, `make_strategy`, and the `AttentionImages`
callback.

The output folder
-----------------
`train_from_config` writes into `[output] dir`::

    config.json          the resolved configuration (checked when a run resumes)
    tokenizers/source/   the tokenizers (also inside every .keras file)
    tokenizers/target/
    backup/              keras.callbacks.BackupAndRestore: running the same command
                         again resumes from the last completed epoch; raising
                         `training.epochs` continues a finished run
    checkpoints/latest.keras   keras.callbacks.ModelCheckpoint, every epoch
    checkpoints/best.keras     with `training.keep = "best"`: the epoch of the best
                         `val_bleu` so far (and best.keras.json: its epoch and score)
    logs/                keras.callbacks.TensorBoard (loss, accuracy,
                         teacher_forcing_ratio; logs/attention: heat-map images)
    model.keras          the final model (written atomically): the last epoch's,
                         or the best one's with `training.keep = "best"`; with
                         `training.ema` the averaged weights
    export/              the SavedModel export (`keras-seq2seq translate --model`)
    interrupted.keras    the model at the moment of a Ctrl-C
"""

import io
import json
import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_seq2seq import atomic, export, plotting, precision, saving
from keras_seq2seq.config import SCHEMA, ConfigError, model_arguments
from keras_seq2seq.constants import STRATEGIES
from keras_seq2seq.models import Seq2Seq
from keras_seq2seq.text import (
    TOKENIZERS,
    Corpus,
    Tokenizer,
    make_dataset,
    read_parallel_files,
    read_tsv_pairs,
)

__all__ = [
    "STRATEGIES",
    "AttentionImages",
    "TrainingInterrupted",
    "build_model",
    "build_tokenizers",
    "load_corpus",
    "load_validation",
    "make_strategy",
    "quality_callbacks",
    "split_validation",
    "train_from_config",
]

CONFIG_FILE = "config.json"

# Keys that may differ when a run resumes in the same output folder.
_RESUMABLE_CHANGES = {("training", "epochs"), ("training", "precision"),
                      ("training", "minutes")}


class TrainingInterrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C); the model was saved first.

    Attributes:
        model_path: where the interrupted model was saved (`interrupted.keras`).
        backup_dir: the `BackupAndRestore` folder that the next run resumes from.
    """

    def __init__(self, model_path, backup_dir):
        super().__init__(model_path)
        self.model_path = model_path
        self.backup_dir = backup_dir


# ------------------------------------------------------------------ building blocks


def load_corpus(config):
    """Reads the corpus of `config["data"]`.

    Returns:
        A `keras_seq2seq.text.Corpus` (sources and targets in the training
        direction, cut to `max_pairs`).
    """
    data = config["data"]
    if data["format"] == "tsv":
        corpus = read_tsv_pairs(data["path"], source_column=data["source_column"],
                                target_column=data["target_column"],
                                on_error=data["on_error"])
    else:
        corpus = read_parallel_files(data["source_file"], data["target_file"],
                                     on_error=data["on_error"])
    if data["direction"] == "reverse":
        corpus = corpus.swapped()
    if data["max_pairs"] is not None and len(corpus) > data["max_pairs"]:
        n = data["max_pairs"]
        corpus = Corpus(corpus.sources[:n], corpus.targets[:n], corpus.skipped)
    return corpus


def load_validation(config):
    """The validation pairs of `data.validation_source_file` / `_target_file`, in the
    training direction: `(sources, targets)` lists."""
    data = config["data"]
    corpus = read_parallel_files(data["validation_source_file"],
                                 data["validation_target_file"], on_error=data["on_error"])
    if data["direction"] == "reverse":
        corpus = corpus.swapped()
    return list(corpus.sources), list(corpus.targets)


def quality_callbacks(training, validation, best_path):
    """The `[training]` callbacks that shape what a run reaches, in their order.

    `WeightAverage` (`ema`), then `BleuCallback` on the first `validation_bleu`
    validation pairs and a best-by-`val_bleu` `ModelCheckpoint` at `best_path`
    (`keep = "best"`), then `TimeBudget` (`minutes`, which logs `minutes_left`) and
    `TimeWarmdown` (`warmdown`).

    Args:
        training: the `[training]` section of a loaded configuration.
        validation: `(sources, targets)` or None.
        best_path: where the best epoch's model is kept.

    Returns:
        A list of callbacks (empty with every one of those keys at its default).
    """
    from keras_seq2seq.averaging import WeightAverage
    from keras_seq2seq.callbacks import BleuCallback, TimeBudget, TimeWarmdown

    callbacks = []
    if training["ema"] > 0:
        callbacks.append(WeightAverage(training["ema"]))
    if training["validation_bleu"] > 0 and validation is not None:
        n = training["validation_bleu"]
        callbacks.append(BleuCallback(validation[0][:n], validation[1][:n]))
        if training["keep"] == "best":
            # A resumed run keeps the earlier runs' best unless it beats it.
            record = best_path + ".json"
            previous = None
            if os.path.exists(record) and os.path.exists(best_path):
                with open(record, encoding="utf-8") as f:
                    previous = json.load(f)["val_bleu"]
            callbacks.append(keras.callbacks.ModelCheckpoint(
                best_path, monitor="val_bleu", mode="max", save_best_only=True,
                initial_value_threshold=previous))
            callbacks.append(_BestRecord(record, previous))
    if training["minutes"] is not None:
        callbacks.append(TimeBudget(training["minutes"]))
        if training["warmdown"] > 0:
            callbacks.append(TimeWarmdown(training["minutes"], fraction=training["warmdown"]))
    return callbacks


class _BestRecord(keras.callbacks.Callback):
    """Writes `{"val_bleu": best, "epoch": n}` beside the best checkpoint whenever
    `val_bleu` beats the best so far (after that checkpoint is written)."""

    def __init__(self, path, best=None):
        super().__init__()
        self.path, self.best = path, best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_bleu")
        if value is not None and (self.best is None or value > self.best):
            self.best = float(value)
            record = json.dumps({"val_bleu": self.best, "epoch": epoch + 1})

            def write(temporary):
                with open(temporary, "w", encoding="utf-8") as f:
                    f.write(record)

            atomic.write_file(self.path, write, overwrite=True)


def split_validation(sources, targets, fraction, seed):
    """A seeded random split: `((train_sources, train_targets), (val_s, val_t))`."""
    n = len(sources)
    count = int(round(n * fraction))
    if fraction > 0 and count == 0:
        count = 1
    if count >= n:
        raise ConfigError(
            f"data.validation_split = {fraction} leaves no training pair out of {n}")
    order = np.random.default_rng(seed).permutation(n)
    held = set(order[:count].tolist())
    train = ([s for i, s in enumerate(sources) if i not in held],
             [t for i, t in enumerate(targets) if i not in held])
    validation = ([sources[i] for i in sorted(held)], [targets[i] for i in sorted(held)])
    return train, validation


def build_tokenizers(config, sources, targets):
    """Builds (trains) the source and target tokenizers of `config["tokenizer"]`.

    Returns:
        `(source_tokenizer, target_tokenizer)`; with `tokenizer.joint`, one tokenizer
        trained on both sides' text (`source_vocabulary_size` tokens), twice.
    """
    settings = config["tokenizer"]
    cls = TOKENIZERS[settings["type"]]
    extra = {"seed": config["training"]["seed"]} if settings["type"] == "sentencepiece" else {}
    if settings["joint"]:
        joint = cls.from_texts(list(sources) + list(targets), name="joint_tokenizer",
                               vocabulary_size=settings["source_vocabulary_size"],
                               lowercase=settings["lowercase"], **extra)
        return joint, joint
    source = cls.from_texts(sources, name="source_tokenizer",
                       vocabulary_size=settings["source_vocabulary_size"],
                       lowercase=settings["lowercase"], **extra)
    target = cls.from_texts(targets, name="target_tokenizer",
                       vocabulary_size=settings["target_vocabulary_size"],
                       lowercase=settings["lowercase"], **extra)
    return source, target


def build_model(config, source_tokenizer, target_tokenizer):
    """The `Seq2Seq` of `config["model"]` and `config["training"]` (uncompiled).

    Call it inside `strategy.scope()` to train with a `tf.distribute` strategy.
    """
    return Seq2Seq(
        source_tokenizer.vocabulary_size, target_tokenizer.vocabulary_size,
        source_tokenizer=source_tokenizer, target_tokenizer=target_tokenizer,
        name="seq2seq", **model_arguments(config))


def make_strategy(name="default"):
    """A `tf.distribute` strategy: "default", "mirrored" (all local GPUs) or
    "one_device" (the first GPU, else the CPU)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    raise ValueError(f"invalid strategy {name!r}; valid choices: {', '.join(STRATEGIES)}")


class AttentionImages(keras.callbacks.Callback):
    """Logs the attention heat map of one sentence per epoch (`tf.summary.image`).

    Args:
        log_dir: the TensorBoard run folder to write to (e.g. `logs/attention`).
        text: the sentence translated (greedy) at the end of every epoch.
    """

    def __init__(self, log_dir, text):
        super().__init__()
        self.log_dir = log_dir
        self.text = text
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(self.log_dir)
        found = self.model.translate_full(self.text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # glyphs missing from the font
            figure = plotting.plot_attention(
                found.attention, found.source_tokens, found.tokens,
                title=f"{self.text} → {found.text}")
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=72)
        image = tf.image.decode_png(buffer.getvalue(), channels=4)[None]
        with self.writer.as_default():
            tf.summary.image("attention", image, step=epoch)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()


# ---------------------------------------------------------------------- training


def _comparable(config):
    return {section: {k: v for k, v in values.items()
                      if (section, k) not in _RESUMABLE_CHANGES}
            for section, values in config.items() if section != "output"}


def _check_same_run(config, path):
    with open(path, encoding="utf-8") as f:
        previous = json.load(f)
    old, new = _comparable(previous), _comparable(config)

    def before(section, key):
        # A run written before a key existed had that key's default.
        values = old.get(section, {})
        return values[key] if key in values else SCHEMA[section][key].default

    changed = [f"{section}.{key}: {before(section, key)!r} -> {value!r}"
               for section, values in new.items() for key, value in values.items()
               if before(section, key) != value]
    if changed:
        folder = os.path.dirname(path)
        may_change = ", ".join(f"{s}.{k}" for s, k in sorted(_RESUMABLE_CHANGES))
        raise ConfigError(
            f"{folder} holds a run with another configuration ({'; '.join(changed)}); "
            "use another output folder, or the same settings to resume (only "
            f"{may_change} may change)")


def _backup_epoch(backup_dir):
    path = os.path.join(backup_dir, "training_metadata.json")
    try:
        with open(path, encoding="utf-8") as f:
            return int(json.load(f)["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def train_from_config(config, strategy="default", callbacks=None, verbose="auto",
                      log=print):
    """Trains a model as `keras-seq2seq train` does (see the module docstring).

    Running it again on the same output folder resumes from the last completed epoch
    (`keras.callbacks.BackupAndRestore` in `OUTPUT/backup`, kept after a finished
    run so that a larger `training.epochs` continues it). A resumed run gets
    `training.minutes` afresh (the budget is this process's), and its moving
    average (`training.ema`) restarts from the backed-up raw weights.

    Args:
        config: a dict from `load_config`.
        strategy: "default", "mirrored", "one_device" or a `tf.distribute.Strategy`;
            the model is built and compiled in its scope.
        callbacks: more Keras callbacks for `fit`.
        verbose: `fit` verbosity.
        log: function that prints progress lines.

    Returns:
        A dict: `model` (the trained `Seq2Seq`), `model_path`, `export_path`
        (`None` without export), `output_dir`, `initial_epoch` (epochs already done
        when the run started), `epochs` (the epochs done at the end: fewer than
        `training.epochs` when `training.minutes` or a callback stopped it),
        `history` (the new epochs' logs).

    Raises:
        TrainingInterrupted: on Ctrl-C, after saving `OUTPUT/interrupted.keras`.
        ConfigError: the output folder holds a run with another configuration.
        keras_seq2seq.text.CorpusError: a bad corpus line.
    """
    out = config["output"]["dir"]
    training = config["training"]
    os.makedirs(out, exist_ok=True)
    config_path = os.path.join(out, CONFIG_FILE)
    if os.path.exists(config_path):
        _check_same_run(config, config_path)
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)

    keras.utils.set_random_seed(training["seed"])
    corpus = load_corpus(config)
    skipped = f", {corpus.skipped} bad lines skipped" if corpus.skipped else ""
    log(f"Corpus: {len(corpus)} sentence pairs{skipped}.")
    (train_sources, train_targets), validation = (
        (corpus.sources, corpus.targets), None)
    if config["data"]["validation_split"] > 0:
        (train_sources, train_targets), validation = split_validation(
            corpus.sources, corpus.targets, config["data"]["validation_split"],
            training["seed"])
        log(f"Validation: {len(validation[0])} pairs held out.")
    elif config["data"]["validation_source_file"] is not None:
        validation = load_validation(config)
        log(f"Validation: {len(validation[0])} pairs from "
            f"{config['data']['validation_source_file']}.")

    tokenizer_dirs = [os.path.join(out, "tokenizers", side) for side in ("source", "target")]
    if all(os.path.exists(os.path.join(d, "config.json")) for d in tokenizer_dirs):
        source_tokenizer, target_tokenizer = (Tokenizer.load(d) for d in tokenizer_dirs)
        log(f"Tokenizers: reused from {os.path.join(out, 'tokenizers')}.")
    else:
        source_tokenizer, target_tokenizer = build_tokenizers(
            config, train_sources, train_targets)
        for tokenizer, folder in zip((source_tokenizer, target_tokenizer), tokenizer_dirs):
            tokenizer.save(folder)
    log(f"Tokenizers ({config['tokenizer']['type']}): "
        f"{source_tokenizer.vocabulary_size} source and "
        f"{target_tokenizer.vocabulary_size} target tokens.")

    data = config["data"]
    dataset_options = dict(max_source_length=data["max_source_length"],
                           max_target_length=data["max_target_length"])
    train_data, stats = make_dataset(
        train_sources, train_targets, source_tokenizer, target_tokenizer,
        batch_size=training["batch_size"], seed=training["seed"],
        bucket_boundaries="auto" if training["bucketing"] else None,
        token_budget=training["token_budget"], return_stats=True, **dataset_options)
    if stats.kept < stats.total:
        log(f"Training pairs: {stats.kept} of {stats.total} kept "
            f"({stats.empty_source} empty sources, {stats.filtered} too long).")
    validation_data = None
    if validation is not None:
        validation_data = make_dataset(*validation, source_tokenizer, target_tokenizer,
                                       batch_size=training["batch_size"], shuffle=False,
                                       **dataset_options)

    if isinstance(strategy, str):
        strategy = make_strategy(strategy)
    previous_policy = keras.mixed_precision.global_policy()
    policy, reason = precision.apply_precision(training["precision"])
    log(f"Precision: {policy} ({reason}).")
    try:
        with strategy.scope():
            model = build_model(config, source_tokenizer, target_tokenizer)
    finally:  # the model's layers keep theirs; later models get the caller's
        keras.mixed_precision.set_global_policy(previous_policy)
    with strategy.scope():
        optimizer_options = {}
        if training["clipnorm"] is not None:
            optimizer_options["clipnorm"] = training["clipnorm"]
        model.compile(optimizer=keras.optimizers.Adam(training["learning_rate"],
                                                      **optimizer_options))

    backup_dir = os.path.join(out, "backup")
    done = _backup_epoch(backup_dir)
    epochs = training["epochs"]
    if done is not None:
        if done >= epochs:
            log(f"Resuming from {backup_dir}: {done} of {epochs} epochs already done, "
                "nothing left to train (raise training.epochs to train more).")
        else:
            log(f"Resuming from {backup_dir}: {done} of {epochs} epochs done, "
                f"training epochs {done + 1} to {epochs}.")
    os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)
    best_path = os.path.join(out, "checkpoints", "best.keras")
    all_callbacks = [
        # The backup holds the raw weights (resuming trains on from them); what
        # comes after WeightAverage sees the averaged ones at each epoch end.
        keras.callbacks.BackupAndRestore(backup_dir, double_checkpoint=True,
                                         delete_checkpoint=False),
        *quality_callbacks(training, validation, best_path),
        keras.callbacks.ModelCheckpoint(os.path.join(out, "checkpoints", "latest.keras")),
        keras.callbacks.TensorBoard(os.path.join(out, "logs")),
    ]
    if config["output"]["attention_images"]:
        sample = (validation or (train_sources, train_targets))[0][0]
        all_callbacks.append(AttentionImages(os.path.join(out, "logs", "attention"),
                                             sample))
    all_callbacks.extend(callbacks or [])
    try:
        with warnings.catch_warnings():
            # make_dataset shuffles; Keras warns that fit's own shuffle is ignored.
            warnings.filterwarnings("ignore", message=".*shuffle=True. was passed")
            history = model.fit(train_data, validation_data=validation_data,
                                epochs=epochs, callbacks=all_callbacks, verbose=verbose)
    except KeyboardInterrupt:
        path = os.path.join(out, "interrupted.keras")
        saving.save_model(model, path, overwrite=True)
        raise TrainingInterrupted(path, backup_dir) from None

    if (training["keep"] == "best" and os.path.exists(best_path)
            and os.path.exists(best_path + ".json")):
        model = keras.saving.load_model(best_path)
        with open(best_path + ".json", encoding="utf-8") as f:
            best = json.load(f)
        log(f"Best epoch by val_bleu: {best['epoch']} ({best['val_bleu']:.2f}), "
            f"{best_path}")
    model_path = os.path.join(out, "model.keras")
    saving.save_model(model, model_path, overwrite=True)
    log(f"Model: {model_path}")
    export_path = None
    if config["output"]["export"]:
        export_path = os.path.join(out, "export")
        export.export_translator(model, export_path,
                                 beam_width=config["output"]["export_beam_width"],
                                 max_length=config["output"]["export_max_length"],
                                 overwrite=True)
        log(f"SavedModel export: {export_path}")
    return {
        "model": model,
        "model_path": model_path,
        "export_path": export_path,
        "output_dir": out,
        "initial_epoch": done or 0,
        "epochs": (done or 0) + len(history.epoch),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }
