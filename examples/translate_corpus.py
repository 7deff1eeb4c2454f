"""Train on a real parallel corpus, then score greedy and beam search with BLEU.

    # Multi30k German -> English (folder with train/val/test_2016_flickr .de/.en):
    python examples/translate_corpus.py --data ../shared/data/multi30k --minutes 60
    # Tatoeba English -> French (Anki TSV, EN<TAB>FR):
    python examples/translate_corpus.py --data ../shared/data/fra-eng/fra.txt --minutes 30

SentencePiece subwords are learned from the training text; the model is a
bidirectional-GRU encoder with a GRU decoder, general attention, a linear attentional
layer over the context, the state and the previous token's embedding
(`--attentional-activation linear --deep-output`: Luong's tanh there learns several
times slower per step, benchmarks/README.md), label smoothing and a scheduled
teacher-forcing ratio, trained under mixed bfloat16 where the CPU computes
bfloat16 natively (`--precision auto`, printed at the start). Training stops after
`--minutes` (TimeBudget) or
`--epochs`, whichever comes first; the learning rate (1e-3) decays linearly to 5% over
the last half of the minutes (`TimeWarmdown`; `--warmdown 0` halves it whenever
validation BLEU does not improve instead); validation BLEU is logged each epoch
(`val_bleu`) and the best epoch's weights are kept. Beam search's length penalty is
chosen on the validation split among `--length-penalties`. It reports BLEU two ways
on the test split:
sacrebleu's default (detokenized, cased) and lowercased BLEU on word tokens (the
convention of published Multi30k figures), greedy and beam, and prints samples and an
attention plot. The corpora are read where they lie and never copied.
`--evaluate MODEL.keras` skips training and scores a model saved by an earlier run;
`--init MODEL.keras` fine-tunes one under other training settings, such as less
teacher forcing (`--teacher-forcing 0.75 --teacher-forcing-granularity token
--teacher-forcing-mode parallel`; docs/teacher_forcing.md).

Levers that are off by default until measured better (benchmarks/README.md, "Quality
per CPU hour"): `--ema DECAY` (validate, keep and score a moving average of the
weights), `--joint-vocabulary` (one SentencePiece model for both sides, one embedding
for source, target and output), `--token-budget TOKENS` (batches sized by tokens
instead of pairs), `--warmup-steps STEPS` (a linear learning-rate warmup before the
warmdown), `--ensemble N`, `--encoder-units`, `--attention concat|dot`.

`--model baseline` trains, by the same script and for the same minutes, what a user
would write by hand (the issue's reference point): `benchmarks/baseline.py`'s
plain-Keras model (bidirectional GRU encoder, GRU decoder, additive attention, full
teacher forcing, `compile` + `fit`) on word vocabularies with Adam 1e-3, and greedy
decoding that reruns the model on the growing prefix; it reports the same BLEU
figures (greedy only).
"""

import argparse
import json
import os
import random
import sys
import time

import keras

import keras_seq2seq as ks
from keras_seq2seq import evaluation, plotting, precision, schedules
from keras_seq2seq.models.scheduled_sampling import GRANULARITIES, MODES
from keras_seq2seq.text import (
    END_ID,
    START_ID,
    SentencePieceTokenizer,
    WordTokenizer,
    make_dataset,
    read_split_folder,
    read_tsv_pairs,
)


def load_corpus(path, source_lang, target_lang, seed=0):
    """(train, validation, test) pairs from a Multi30k-style folder or a TSV file."""
    if os.path.isdir(path):
        split = read_split_folder(path, source_lang, target_lang)
        return tuple((list(split[name].sources), list(split[name].targets))
                     for name in ("train", "validation", "test"))
    corpus = read_tsv_pairs(path, source_column=0, target_column=1, on_error="skip")
    pairs = list(zip(corpus.sources, corpus.targets))
    random.Random(seed).shuffle(pairs)
    test, validation, train = pairs[:2000], pairs[2000:3000], pairs[3000:]
    unzip = lambda ps: ([s for s, _ in ps], [t for _, t in ps])  # noqa: E731
    return unzip(train), unzip(validation), unzip(test)


def baseline_greedy(model, texts, source_tokenizer, target_tokenizer, max_length=80,
                    batch_size=128):
    """Greedy decoding of a teacher-forced-only Keras model, the way one writes it by
    hand: run the whole model on the prefix decoded so far, take the last argmax
    (`benchmarks/baseline.py::make_greedy_decoder`)."""
    from benchmarks.baseline import make_greedy_decoder

    decode = make_greedy_decoder(model, start_id=START_ID, end_id=END_ID)
    outputs = []
    progress = keras.utils.Progbar(len(texts), unit_name="sentence")
    for start in range(0, len(texts), batch_size):
        chunk = texts[start:start + batch_size]
        ids = source_tokenizer.tokenize(chunk).to_tensor()
        decoded = decode(ids, max_length)  # [END] kept, 0 after it
        outputs.extend(t.decode("utf-8") for t in
                       target_tokenizer.detokenize(decoded).numpy().tolist())
        progress.add(len(chunk))
    return outputs


def run_baseline(args, train, validation, test):
    """Trains and scores the plain-Keras baseline; returns the results dict."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks.baseline import build_baseline, compile_baseline

    source_tokenizer = WordTokenizer.from_texts(
        train[0], max_vocabulary_size=args.vocabulary_size, name="source_tokenizer")
    target_tokenizer = WordTokenizer.from_texts(
        train[1], max_vocabulary_size=args.vocabulary_size, name="target_tokenizer")
    dataset = make_dataset(*train, source_tokenizer, target_tokenizer,
                           batch_size=args.batch_size, max_source_length=80,
                           max_target_length=80, bucket_boundaries="auto",
                           seed=args.seed)
    validation_data = make_dataset(*validation, source_tokenizer, target_tokenizer,
                                   batch_size=256, shuffle=False)
    model = build_baseline(source_tokenizer.vocabulary_size,
                           target_tokenizer.vocabulary_size,
                           embedding_dim=args.embedding_dim, units=args.units,
                           encoder_units=args.units // 2, attention="concat")
    compile_baseline(model, learning_rate=1e-3)
    started = time.time()
    history = model.fit(dataset, validation_data=validation_data, epochs=args.epochs,
                        callbacks=[ks.TimeBudget(args.minutes)], verbose=2)
    minutes = (time.time() - started) / 60
    hypotheses = baseline_greedy(model, test[0], source_tokenizer, target_tokenizer)
    scores = evaluation.evaluate_translations(hypotheses, test[1])
    print(f"baseline greedy: BLEU {scores['bleu']:.2f} (sacrebleu, cased, detokenized), "
          f"word BLEU {scores['word_bleu']:.2f} (lowercased word tokens), "
          f"chrF {scores['chrf']:.2f}")
    for source, reference, hypothesis in list(zip(test[0], test[1], hypotheses))[:3]:
        print(f"\n  source:     {source}\n  reference:  {reference}\n"
              f"  greedy:     {hypothesis}")
    return {"model": "baseline", "training_minutes": round(minutes, 1),
            "epochs": len(history.epoch), "greedy": scores, "args": vars(args)}


def choose_length_penalty(model, args, validation):
    """The beam length penalty of `args.length_penalties` with the best validation word
    BLEU (the test split is not looked at); returns (alpha, {alpha: word BLEU})."""
    if len(args.length_penalties) == 1:
        return args.length_penalties[0], {}
    scores = {}
    for alpha in args.length_penalties:
        hypotheses = model.translate(validation[0], batch_size=128, method="beam",
                                     beam_width=args.beam, length_penalty=alpha)
        scores[alpha] = evaluation.word_tokenized_bleu(hypotheses, validation[1])
        print(f"validation, beam {args.beam}, length penalty {alpha}: word BLEU "
              f"{scores[alpha]:.2f}")
    return max(scores, key=scores.get), scores


def evaluate_model(model, args, validation, test):
    """Greedy and beam BLEU on the test split, samples and an attention plot.

    Returns:
        `dict` with `greedy`, `beam<W>` (scores of `evaluation.evaluate_translations`),
        `length_penalty` (the one used) and `validation_length_penalty_bleu`.
    """
    alpha, tried = choose_length_penalty(model, args, validation)
    results = {"length_penalty": alpha,
               "validation_length_penalty_bleu": {str(a): b for a, b in tried.items()}}
    for name, options in (("greedy", {}),
                          (f"beam{args.beam}", {"method": "beam", "beam_width": args.beam,
                                                "length_penalty": alpha})):
        hypotheses = model.translate(test[0], batch_size=128, verbose=1, **options)
        scores = evaluation.evaluate_translations(hypotheses, test[1])
        results[name] = scores
        print(f"{name}: BLEU {scores['bleu']:.2f} (sacrebleu, cased, detokenized), "
              f"word BLEU {scores['word_bleu']:.2f} (lowercased word tokens), "
              f"chrF {scores['chrf']:.2f}" + (f", length penalty {alpha}"
                                              if options else ""))
    for source, reference in list(zip(*test))[:5]:
        print(f"\n  source:     {source}\n  reference:  {reference}\n"
              f"  greedy:     {model.translate(source)}")
    first = model.translate_full(test[0][0])
    plotting.plot_attention(first.attention, first.source_tokens, first.tokens,
                            path=os.path.join(args.output, "attention.png"))
    return results


# What --init takes from the saved model instead of the command line.
ARCHITECTURE_OPTIONS = ("vocabulary_size", "embedding_dim", "units", "encoder_units",
                        "joint_vocabulary", "attention", "attentional_activation",
                        "deep_output")


def make_parser():
    """The command line of this script (its defaults are the recommended recipe)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True,
                        help="Multi30k-style folder, or an Anki/Tatoeba TSV file")
    parser.add_argument("--source-lang", default="de")
    parser.add_argument("--target-lang", default="en")
    parser.add_argument("--vocabulary-size", type=int, default=8000)
    parser.add_argument("--embedding-dim", type=int, default=256)
    parser.add_argument("--units", type=int, default=512, help="decoder RNN size")
    parser.add_argument("--encoder-units", type=int, default=None,
                        help="encoder RNN size per direction (default: --units / 2)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=60.0, help="training budget")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--warmdown", type=float, default=0.5,
                        help="decay the learning rate linearly to 5%% over this last "
                             "fraction of --minutes (TimeWarmdown, default 0.5); 0 "
                             "halves it whenever val_bleu does not improve instead")
    parser.add_argument("--warmup-steps", type=int, default=0, metavar="STEPS",
                        help="raise the learning rate linearly over the first STEPS "
                             "batches before the warmdown (TimeWarmdown's "
                             "warmup_steps; needs --warmdown > 0); 0 (default): off")
    parser.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                        help="keep an exponential moving average of the weights with "
                             "this decay (keras_seq2seq.WeightAverage) and validate, "
                             "checkpoint and score the averaged model; 0 (default): off")
    parser.add_argument("--token-budget", type=int, default=None, metavar="TOKENS",
                        help="size batches per length bucket to at most this many "
                             "tokens (make_dataset's token_budget) instead of "
                             "--batch-size pairs")
    parser.add_argument("--joint-vocabulary", action="store_true",
                        help="one SentencePiece model trained on both sides' text, "
                             "its embedding shared by the source, the target and the "
                             "output projection (Seq2Seq tie_embeddings=\"all\")")
    parser.add_argument("--attention", choices=("general", "concat", "dot"),
                        default="general",
                        help="the Luong score: general (bilinear), concat (additive) "
                             "or dot (scaled by the square root of the size)")
    parser.add_argument("--attentional-activation", choices=("tanh", "linear"),
                        default="linear",
                        help="h̃ = W_c [c; h (; e)] through Luong's tanh, or linear (the "
                             "default: learns much faster, benchmarks/README.md)")
    parser.add_argument("--deep-output", action=argparse.BooleanOptionalAction,
                        default=True,
                        help="the attentional layer also sees the embedded previous "
                             "token (Seq2Seq deep_output=True)")
    parser.add_argument("--ensemble", type=int, default=1, metavar="N",
                        help="train N members one after another in the same --minutes "
                             "(each gets minutes/N and seed --seed+i) and decode with "
                             "their ensemble (keras_seq2seq.models.Ensemble)")
    parser.add_argument("--teacher-forcing", type=float, default=None, metavar="RATIO",
                        help="a constant teacher-forcing ratio in [0, 1] instead of "
                             "the recipe's schedule (1.0, then 0.9 from step 3,000)")
    parser.add_argument("--teacher-forcing-granularity", choices=GRANULARITIES,
                        default="batch",
                        help="one coin per batch (default) or per token")
    parser.add_argument("--teacher-forcing-mode", choices=MODES, default="sequential",
                        help="sequential (exact scheduled sampling, default) or "
                             "parallel (predictions of a teacher-forced pass)")
    parser.add_argument("--init", metavar="MODEL.keras",
                        help="fine-tune: start from this saved model (its "
                             "architecture, tokenizers and weights; a new optimizer), "
                             "changing only the training settings given here "
                             "(Seq2Seq.with_settings); --data and --seed as its run's")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--length-penalties", type=float, nargs="+", default=[0.6],
                        metavar="ALPHA",
                        help="beam length penalties (GNMT alpha) to try on the "
                             "validation split; the best by word BLEU is used on test")
    parser.add_argument("--evaluate", metavar="MODEL.keras",
                        help="skip training: score this saved model (give the training "
                             "run's --data and --seed: a TSV corpus is split by the "
                             "seed); writes evaluation.json, not results.json")
    parser.add_argument("--output", default="corpus_output")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=precision.PRECISIONS, default="auto",
                        help="dtype policy: auto (default) picks mixed_bfloat16 on a "
                             "CPU with native bfloat16 (avx512_bf16 / amx_bf16), no "
                             "GPU and a bfloat16 matmul measured >= 1.15x float32's, "
                             "else float32 (benchmarks/README.md: 1.29x the steps a "
                             "minute where it is chosen, validation BLEU within seed "
                             "noise)")
    parser.add_argument("--model", choices=("seq2seq", "baseline"), default="seq2seq",
                        help="keras_seq2seq.Seq2Seq (default) or the plain-Keras "
                             "baseline, trained by this same script")
    return parser


def build_tokenizers(args, train):
    """The recipe's SentencePiece tokenizers `(source, target)`, learned from the
    training text (one joint model, twice, with `--joint-vocabulary`)."""
    if args.joint_vocabulary:
        joint = SentencePieceTokenizer.train(train[0] + train[1],
                                             vocabulary_size=args.vocabulary_size,
                                             name="joint_tokenizer")
        return joint, joint
    return (SentencePieceTokenizer.train(train[0], vocabulary_size=args.vocabulary_size,
                                         name="source_tokenizer"),
            SentencePieceTokenizer.train(train[1], vocabulary_size=args.vocabulary_size,
                                         name="target_tokenizer"))


def build_recipe(args, train, validation, tokenizers=None):
    """The recipe's tokenizers, pipelines, compiled `Seq2Seq` and callbacks.

    Args:
        args: parsed `make_parser()` arguments.
        train, validation: `(sources, targets)` lists.
        tokenizers: `(source, target)` to use instead of training them
            (`build_tokenizers`; an ensemble's members share theirs).

    Returns:
        A dict: `model`, `dataset`, `validation_data`, `callbacks` (for `fit`),
        `best_path` (where `ModelCheckpoint` keeps the best epoch by `val_bleu`).
    """
    teacher_forcing = dict(
        teacher_forcing=(schedules.PiecewiseConstant([3000], [1.0, 0.9])
                         if args.teacher_forcing is None else args.teacher_forcing),
        teacher_forcing_granularity=args.teacher_forcing_granularity,
        teacher_forcing_mode=args.teacher_forcing_mode)
    if args.init:
        trained = keras.models.load_model(args.init)
        model = trained.with_settings(dropout=args.dropout,
                                      label_smoothing=args.label_smoothing,
                                      **teacher_forcing)
        tokenizers = (model.source_tokenizer, model.target_tokenizer)
        print(f"fine-tuning {args.init}: its architecture and tokenizers, "
              f"{model.count_params():,} parameters")
    source_tokenizer, target_tokenizer = tokenizers or build_tokenizers(args, train)
    dataset, stats = make_dataset(*train, source_tokenizer, target_tokenizer,
                                  batch_size=args.batch_size, max_source_length=80,
                                  max_target_length=80, bucket_boundaries="auto",
                                  token_budget=args.token_budget, seed=args.seed,
                                  return_stats=True)
    print(f"pipeline: {stats}")
    validation_data = make_dataset(*validation, source_tokenizer, target_tokenizer,
                                   batch_size=256, shuffle=False)
    if not args.init:
        model = ks.Seq2Seq(
            source_tokenizer.vocabulary_size, target_tokenizer.vocabulary_size,
            embedding_dim=args.embedding_dim, units=args.units,
            encoder_units=args.encoder_units or args.units // 2, bidirectional=True,
            cell_type="gru",
            attention=args.attention, attention_scale=args.attention == "dot",
            dropout=args.dropout, label_smoothing=args.label_smoothing,
            tie_embeddings="all" if args.joint_vocabulary else False,
            deep_output=args.deep_output, attentional_activation=args.attentional_activation,
            max_decode_length=80, source_tokenizer=source_tokenizer,
            target_tokenizer=target_tokenizer, **teacher_forcing)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=5.0))
    best_path = os.path.join(args.output, "best.keras")
    # WeightAverage first: the callbacks after it judge and keep the averaged weights.
    callbacks = [ks.WeightAverage(args.ema)] if args.ema > 0 else []
    callbacks += [
        ks.BleuCallback(validation[0][:500], validation[1][:500]),
        keras.callbacks.ModelCheckpoint(best_path, monitor="val_bleu", mode="max",
                                        save_best_only=True),
        ks.TimeBudget(args.minutes),
    ]
    if args.warmdown > 0:
        # Anneal over the end of the time budget, however many epochs fit in it: the
        # best measured schedule (benchmarks/README.md: 1e-3 then a warmdown over the
        # last half, word BLEU 37.3 with beam search; halving at each stall, 35.2;
        # 2e-3 held for 36 minutes overfits, 29.3).
        callbacks.append(ks.TimeWarmdown(args.minutes, fraction=args.warmdown,
                                         warmup_steps=args.warmup_steps))
    elif args.warmup_steps:
        raise ValueError("--warmup-steps needs the time-budget warmdown: give "
                         "--warmdown a fraction > 0, or drop --warmup-steps")
    else:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_bleu", mode="max", factor=0.5, patience=1))
    return {"model": model, "dataset": dataset, "validation_data": validation_data,
            "callbacks": callbacks, "best_path": best_path}


def train_one(args, train, validation, tokenizers=None):
    """Trains the recipe's model; returns `(best model, History, minutes)`."""
    recipe = build_recipe(args, train, validation, tokenizers)
    started = time.time()
    history = recipe["model"].fit(recipe["dataset"],
                                  validation_data=recipe["validation_data"],
                                  epochs=args.epochs, callbacks=recipe["callbacks"],
                                  verbose=2)
    minutes = (time.time() - started) / 60
    return keras.models.load_model(recipe["best_path"]), history, minutes


def train_ensemble(args, train, validation):
    """`--ensemble N`: N members, one after the other, each with `--minutes / N` and
    its own seed (`--seed + i`) and output folder, sharing one pair of tokenizers;
    returns `(keras_seq2seq.models.Ensemble of their best epochs, results dict)`."""
    import copy

    from keras_seq2seq.models import Ensemble

    tokenizers = build_tokenizers(args, train)
    members, per_member, total = [], [], 0.0
    for i in range(args.ensemble):
        member_args = copy.copy(args)
        member_args.minutes = args.minutes / args.ensemble
        member_args.seed = args.seed + i
        member_args.output = os.path.join(args.output, f"member_{i}")
        os.makedirs(member_args.output, exist_ok=True)
        keras.utils.set_random_seed(member_args.seed)
        print(f"ensemble member {i + 1} of {args.ensemble}: "
              f"{member_args.minutes:g} minutes, seed {member_args.seed}")
        model, history, minutes = train_one(member_args, train, validation, tokenizers)
        members.append(model)
        total += minutes
        per_member.append({"training_minutes": round(minutes, 1),
                           "epochs": len(history.epoch),
                           "val_bleu": history.history.get("val_bleu"),
                           "minutes_left": history.history.get("minutes_left")})
    return Ensemble(members), {"training_minutes": round(total, 1),
                               "epochs": sum(m["epochs"] for m in per_member),
                               "members": per_member}


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)

    os.makedirs(args.output, exist_ok=True)
    args.policy, reason = precision.apply_precision(args.precision)
    print(f"precision: {args.policy} ({reason})")
    keras.utils.set_random_seed(args.seed)
    train, validation, test = load_corpus(args.data, args.source_lang, args.target_lang,
                                          args.seed)
    print(f"pairs: train {len(train[0])}, validation {len(validation[0])}, "
          f"test {len(test[0])}")
    if args.init and (args.model != "seq2seq" or args.ensemble > 1 or args.evaluate):
        parser.error("--init fine-tunes one saved keras_seq2seq model; drop --model, "
                     "--ensemble and --evaluate")
    ignored = [f"--{name.replace('_', '-')}" for name in ARCHITECTURE_OPTIONS
               if args.init and getattr(args, name) != parser.get_default(name)]
    if ignored:
        print(f"warning: --init keeps {args.init}'s architecture and tokenizers; "
              f"ignoring {', '.join(ignored)}", file=sys.stderr)
    if args.evaluate:
        if args.model != "seq2seq":
            parser.error("--evaluate scores a saved keras_seq2seq model; drop --model")
        results = {"model": args.evaluate, "args": vars(args)}
        results.update(evaluate_model(keras.models.load_model(args.evaluate), args,
                                      validation, test))
        # Beside a training run's results.json, not over it.
        with open(os.path.join(args.output, "evaluation.json"), "w") as f:
            json.dump(results, f, indent=2)
        return results
    if args.model == "baseline":
        results = run_baseline(args, train, validation, test)
        with open(os.path.join(args.output, "results.json"), "w") as f:
            json.dump(results, f, indent=2)
        print(f"\n{results['training_minutes']:.1f} minutes of training; results in "
              f"{args.output}/results.json")
        return results
    if args.ensemble > 1:
        model, results = train_ensemble(args, train, validation)
        minutes = results["training_minutes"]
    else:
        model, history, minutes = train_one(args, train, validation)
        results = {"training_minutes": round(minutes, 1), "epochs": len(history.epoch),
                   "val_bleu": history.history.get("val_bleu"),
                   "learning_rate": history.history.get("learning_rate"),
                   "teacher_forcing_ratio": history.history.get("teacher_forcing_ratio"),
                   "minutes_left": history.history.get("minutes_left")}
    results["args"] = vars(args)
    results.update(evaluate_model(model, args, validation, test))
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"\n{minutes:.1f} minutes of training; results in {args.output}/results.json")
    return results


if __name__ == "__main__":
    main()
