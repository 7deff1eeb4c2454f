"""Export a model as a SavedModel, then serve it from a fresh process.

    python examples/serve_export.py                      # trains a small dates model
    python examples/serve_export.py --model demo_output/dates.keras

The serving process imports only `tensorflow` and `tensorflow_text` (to register the
tokenizer ops): no keras_seq2seq, no Keras model code. It prints the translations and
checks they equal the in-memory model's.
"""

import argparse
import subprocess
import sys
import tempfile

SERVE = """
import sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

translator = tf.saved_model.load(sys.argv[1])
texts = tf.constant(sys.argv[2:])
outputs = translator.signatures["translate"](texts=texts)
assert "keras_seq2seq" not in sys.modules
for text in outputs["translations"].numpy():
    print(text.decode("utf-8"))
"""

TEXTS = ["3 March 2023", "Friday, March 3rd 2023", "2023년 3월 3일 금요일", ""]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .keras model with tokenizers (default: "
                        "train a small dates model for 2 epochs)")
    parser.add_argument("--export", default=None, help="export folder (default: temp)")
    args = parser.parse_args()

    import keras

    import keras_seq2seq  # noqa: F401
    from keras_seq2seq.export import export_translator

    if args.model:
        model = keras.models.load_model(args.model)
    else:
        from keras_seq2seq.demo import build_dates_model, prepare_dates

        data = prepare_dates(train_size=8000, test_size=200)
        model = build_dates_model(data["source_tokenizer"], data["target_tokenizer"],
                                  steps_per_epoch=125, epochs=2)
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        model.fit(data["train"], epochs=2, verbose=2)
    path = args.export or tempfile.mkdtemp(prefix="dates_export_") + "/export"
    export_translator(model, path, overwrite=True)
    print(f"exported to {path}")

    served = subprocess.run([sys.executable, "-c", SERVE, path, *TEXTS],
                            capture_output=True, text=True, check=True).stdout
    served = served.split("\n")[:len(TEXTS)]
    expected = model.translate(TEXTS)
    for text, translation in zip(TEXTS, served):
        print(f"  {text!r:28} -> {translation!r}")
    assert served == expected, (served, expected)
    print("the fresh process (tensorflow + tensorflow_text only) gave the model's own "
          "translations")


if __name__ == "__main__":
    main()
