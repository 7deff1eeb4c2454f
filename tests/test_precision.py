"""`keras_seq2seq.precision`: the policy "auto" picks, and that it is applied."""

import keras
import numpy as np
import pytest

from keras_seq2seq import precision


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n"
                    "processor\t: 1\nflags\t\t: fpu\n")
    assert precision.cpu_flags(str(info)) == {"fpu", "sse2", "avx512f", "avx512_bf16"}
    assert precision.cpu_flags(str(tmp_path / "missing")) == set()


@pytest.mark.parametrize("flags, has_gpu, speedup, expected, reason", [
    ({"avx512f", "avx512_bf16"}, False, 1.77, "mixed_bfloat16",
     "the CPU has avx512_bf16 and a bfloat16 matmul ran 1.77× float32's"),
    ({"amx_bf16"}, False, 3.2, "mixed_bfloat16", "amx_bf16"),
    # The flag without the speed (a Xeon without AMX measured 0.58×): float32.
    ({"avx512_bf16"}, False, 0.58, "float32",
     "ran 0.58× float32's, under the 1.15× that bfloat16 must gain"),
    ({"avx512f", "avx2"}, False, None, "float32", "no native bfloat16"),
    ({"avx512_bf16"}, True, None, "float32", "a GPU is visible"),
])
def test_auto_picks_bfloat16_only_on_a_cpu_where_it_is_faster(flags, has_gpu, speedup,
                                                             expected, reason):
    policy, why = precision.resolve_precision("auto", flags=flags, has_gpu=has_gpu,
                                              speedup=speedup)
    assert policy == expected
    assert reason in why


def test_auto_measures_the_speedup_when_the_flags_allow_bfloat16(monkeypatch):
    calls = []
    monkeypatch.setattr(precision, "bf16_matmul_speedup",
                        lambda: calls.append(1) or 0.9)
    assert precision.resolve_precision("auto", flags={"avx512_bf16"},
                                       has_gpu=False)[0] == "float32"
    assert precision.resolve_precision("auto", flags={"avx2"}, has_gpu=False)[0] == (
        "float32")
    assert len(calls) == 1  # not measured without the flag


def test_the_matmul_probe_times_both_dtypes():
    speedup = precision.bf16_matmul_speedup(rows=64, depth=32, columns=64, pairs=3)
    assert isinstance(speedup, float) and 0.01 < speedup < 100


def test_an_explicit_precision_is_kept_and_a_bad_one_named():
    assert precision.resolve_precision("float32", flags={"avx512_bf16"}) == (
        "float32", "asked for")
    with pytest.raises(ValueError, match="`precision` must be one of .*'auto'.*"
                                         "Received: precision='bf16'"):
        precision.resolve_precision("bf16")


def test_apply_precision_sets_the_global_policy():
    before = keras.mixed_precision.global_policy().name
    try:
        policy, _ = precision.apply_precision("auto", flags={"avx512_bf16"},
                                              has_gpu=False, speedup=1.5)
        assert policy == "mixed_bfloat16"
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        precision.apply_precision("float32")
        assert keras.mixed_precision.global_policy().name == "float32"
    finally:
        keras.mixed_precision.set_global_policy(before)


def test_train_from_config_builds_under_the_precision_and_says_so(tmp_path):
    from keras_seq2seq import training
    from keras_seq2seq.config import load_config
    from keras_seq2seq.datasets import load_dates

    sources, targets = load_dates(train_size=128, validation_size=1, test_size=1,
                                  seed=0)["train"]
    (tmp_path / "pairs.tsv").write_text(
        "".join(f"{s}\t{t}\n" for s, t in zip(sources, targets)), encoding="utf-8")
    (tmp_path / "c.toml").write_text(
        '[data]\npath = "pairs.tsv"\n[tokenizer]\ntype = "character"\n'
        '[model]\nembedding_dim = 8\nunits = 16\nmax_decode_length = 12\n'
        '[training]\nbatch_size = 64\nepochs = 1\nprecision = "mixed_bfloat16"\n'
        f'[output]\ndir = "{tmp_path / "run"}"\nexport = false\n'
        'attention_images = false\n', encoding="utf-8")
    lines = []
    before = keras.mixed_precision.global_policy().name
    result = training.train_from_config(load_config(tmp_path / "c.toml"), verbose=0,
                                        log=lines.append)
    model = result["model"]
    assert "Precision: mixed_bfloat16 (asked for)." in lines
    assert model.dtype_policy.name == "mixed_bfloat16"
    assert model.decoder.compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    assert keras.mixed_precision.global_policy().name == before  # restored
    assert np.isfinite(result["history"]["loss"]).all()
