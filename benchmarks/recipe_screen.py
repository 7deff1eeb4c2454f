"""How much a recipe variant learns per optimizer step: a cheap screen before the
20- and 60-minute runs of issue 18.

Trains `examples/translate_corpus.py`'s recipe (its `build_recipe`, with the variant's
options) for a fixed number of steps and, every `--every` steps, measures on the
validation split what label smoothing and dropout do not bend: the perplexity of the
references under forced decoding (`Seq2Seq.score`, natural log, `[END]` counted) and
the greedy word BLEU of its first `--bleu-sentences` sentences. One variant a process,
so that two can run side by side, each pinned to its own core:

    taskset -c 0 python benchmarks/recipe_screen.py --data ../shared/data/multi30k \
        --steps 600 --name concat --output screen.jsonl -- --attention concat

Prints one JSON line a measurement and appends it to `--output`; the test split is
never read.
"""

import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))

import keras  # noqa: E402

import translate_corpus  # noqa: E402
from keras_seq2seq import evaluation, precision  # noqa: E402


def validation_figures(model, validation, bleu_sentences):
    """`(perplexity, greedy word BLEU)` of the model on the validation pairs."""
    scores = model.score(validation[0], validation[1], batch_size=256)
    log_prob = sum(s.log_prob for s in scores)
    tokens = sum(len(s.tokens) + 1 for s in scores)  # + [END]
    sources = validation[0][:bleu_sentences]
    hypotheses = model.translate(sources)
    bleu = evaluation.word_tokenized_bleu(hypotheses, validation[1][:bleu_sentences])
    return math.exp(-log_prob / tokens), bleu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--every", type=int, default=200)
    parser.add_argument("--bleu-sentences", type=int, default=500)
    parser.add_argument("--name", default="default")
    parser.add_argument("--output", default="recipe_screen.jsonl")
    parser.add_argument("recipe", nargs=argparse.REMAINDER,
                        help="after --: translate_corpus.py options of the variant")
    args = parser.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    extra = [a for a in args.recipe if a != "--"]
    recipe_args = translate_corpus.make_parser().parse_args(
        ["--data", args.data, "--output", os.path.dirname(os.path.abspath(args.output)),
         "--minutes", "1e9", "--warmdown", "0"] + extra)
    recipe_args.policy, _ = precision.apply_precision(recipe_args.precision)
    keras.utils.set_random_seed(recipe_args.seed)
    train, validation, _ = translate_corpus.load_corpus(
        args.data, recipe_args.source_lang, recipe_args.target_lang, recipe_args.seed)
    recipe = translate_corpus.build_recipe(recipe_args, train, validation)
    model = recipe["model"]
    dataset = recipe["dataset"].repeat()
    seconds = 0.0
    for done in range(args.every, args.steps + 1, args.every):
        started = time.time()
        model.fit(dataset, steps_per_epoch=args.every, epochs=1, verbose=0)
        seconds += time.time() - started
        perplexity, bleu = validation_figures(model, validation, args.bleu_sentences)
        line = {"name": args.name, "options": extra, "policy": recipe_args.policy,
                "steps": done, "train_seconds": round(seconds, 1),
                "val_perplexity": round(perplexity, 2), "val_bleu": round(bleu, 2)}
        print(json.dumps(line), flush=True)
        with open(args.output, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
