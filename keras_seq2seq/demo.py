"""The built-in demo: date normalisation with a scheduled teacher-forcing ratio.

`run_demo()` is the package's main job (`keras-seq2seq demo`, `examples/dates.py`):
it makes the synthetic date task, trains a character-level bidirectional-GRU model
with `model.fit` while the teacher-forcing ratio decays (Bengio et al. 2015, token
level), reports greedy free-running exact match and BLEU on held-out dates, prints
translations with their attention as a text table, writes an attention heat map and
saves the model.
"""

import json
import os
import time

import keras

from keras_seq2seq import evaluation, plotting, schedules
from keras_seq2seq.datasets import load_dates
from keras_seq2seq.models import Seq2Seq
from keras_seq2seq.text import CharacterTokenizer, make_dataset

DEMO_SAMPLES = [
    "3 March 2023",
    "Mar 3, 23",
    "03/03/2023",
    "Friday, March 3rd 2023",
    "2023년 3월 3일 금요일",
    "the 25th of December, 1999",
]


def prepare_dates(train_size=20000, validation_size=1000, test_size=5000, seed=0,
                  batch_size=64):
    """The date task's splits, character tokenizers and training datasets.

    Returns:
        A dict with `splits` (from `load_dates`), `source_tokenizer`,
        `target_tokenizer`, `train` and `validation` (`tf.data.Dataset`s of
        `((source_ids, decoder_input_ids), target_ids)`).
    """
    splits = load_dates(train_size=train_size, validation_size=validation_size,
                        test_size=test_size, seed=seed)
    sources, targets = splits["train"]
    source_tokenizer = CharacterTokenizer.from_texts(sources, name="source_tokenizer")
    target_tokenizer = CharacterTokenizer.from_texts(targets, name="target_tokenizer")
    train = make_dataset(sources, targets, source_tokenizer, target_tokenizer,
                         batch_size=batch_size, seed=seed)
    validation = make_dataset(*splits["validation"], source_tokenizer, target_tokenizer,
                              batch_size=256, shuffle=False)
    return {"splits": splits, "source_tokenizer": source_tokenizer,
            "target_tokenizer": target_tokenizer, "train": train,
            "validation": validation}


def build_dates_model(source_tokenizer, target_tokenizer, steps_per_epoch, epochs,
                      seed=0):
    """A small bidirectional-GRU model whose teacher forcing decays during training.

    The ratio follows an inverse sigmoid decay (Bengio et al. 2015) chosen so that
    it is near 1 at first and about 0.1 at the end of training, drawn per token.
    """
    total_steps = max(1, steps_per_epoch * epochs)
    # k / (k + exp(i / k)) = 0.1 at i = total_steps  <=>  i/k = log(9k).
    k = round(schedules.inverse_sigmoid_k(total_steps, final_ratio=0.1), 3)
    return Seq2Seq(
        source_tokenizer.vocabulary_size, target_tokenizer.vocabulary_size,
        embedding_dim=32, units=128, encoder_units=64, bidirectional=True,
        cell_type="gru", attention="general",
        teacher_forcing=schedules.InverseSigmoidDecay(k),
        teacher_forcing_granularity="token", seed=seed, max_decode_length=16,
        source_tokenizer=source_tokenizer, target_tokenizer=target_tokenizer,
        name="dates_seq2seq")


def run_demo(output_dir="demo_output", epochs=6, train_size=20000, test_size=5000,
             batch_size=64, seed=0, verbose=1):
    """Trains, evaluates and saves the date-normalisation model.

    Args:
        output_dir: folder for the `.keras` model, the heat map and `metrics.json`.
        epochs: training epochs. Defaults to 6.
        train_size: training pairs. Defaults to 20,000.
        test_size: held-out test dates. Defaults to 5,000.
        batch_size: training batch size. Defaults to 64.
        seed: seed of the data, the initial weights and the coin tosses.
        verbose: Keras progress-bar verbosity.

    Returns:
        A dict of measured figures and written paths.
    """
    os.makedirs(output_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    started = time.time()
    data = prepare_dates(train_size=train_size, test_size=test_size, seed=seed,
                         batch_size=batch_size)
    steps_per_epoch = -(-train_size // batch_size)
    model = build_dates_model(data["source_tokenizer"], data["target_tokenizer"],
                              steps_per_epoch, epochs, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    print(f"Teacher forcing: {model.teacher_forcing!r}, per token; the ratio is shown "
          "as teacher_forcing_ratio.")
    history = model.fit(data["train"], validation_data=data["validation"], epochs=epochs,
                        verbose=verbose)
    train_seconds = time.time() - started

    test_sources, test_targets = data["splits"]["test"]
    predictions = model.translate(test_sources, batch_size=500)
    scores = evaluation.evaluate_translations(predictions, test_targets)
    print(f"\nHeld-out test ({len(test_sources)} dates, greedy, free running): "
          f"exact match {scores['exact_match']:.2%}, BLEU {scores['bleu']:.1f}, "
          f"chrF {scores['chrf']:.1f}")
    print("\nSample translations:")
    for text, translation in zip(DEMO_SAMPLES, model.translate(DEMO_SAMPLES)):
        print(f"  {text!r:32} -> {translation}")

    found = model.translate_full(DEMO_SAMPLES[3])
    print(f"\nAttention of {DEMO_SAMPLES[3]!r} -> {found.text!r} (% per source char):")
    print(plotting.attention_table(found.attention, found.source_tokens, found.tokens))
    png_path = os.path.join(output_dir, "attention.png")
    figure = plotting.plot_attention(found.attention, found.source_tokens, found.tokens,
                                     path=png_path,
                                     title=f"{DEMO_SAMPLES[3]} → {found.text}")
    del figure
    model_path = os.path.join(output_dir, "dates.keras")
    model.save(model_path)
    results = {
        "exact_match": scores["exact_match"],
        "bleu": scores["bleu"],
        "chrf": scores["chrf"],
        "train_seconds": round(train_seconds, 1),
        "epochs": epochs,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "model_path": model_path,
        "attention_png": png_path,
    }
    with open(os.path.join(output_dir, "metrics.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nTraining took {train_seconds:.0f} s; everything {time.time() - started:.0f} s.")
    print(f"Model:        {model_path}  (keras.models.load_model after "
          "`import keras_seq2seq`; model.translate([...]))")
    print(f"Attention:    {png_path}")
    print(f"Metrics:      {os.path.join(output_dir, 'metrics.json')}")
    return results
