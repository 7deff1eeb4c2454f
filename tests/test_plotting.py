"""Tests for keras_seq2seq.plotting (attention heat maps and text tables)."""

import ast
import os
import pathlib
import warnings

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_seq2seq import plotting
from keras_seq2seq.plotting import attention_table, find_hangul_font, plot_attention

WEIGHTS = [[0.7, 0.2, 0.1], [0.05, 0.15, 0.8]]
SOURCE = ["the", "cat", "sat"]
TARGET = ["le", "chat"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def labels(texts):
    return [text.get_text() for text in texts]


def test_plot_attention_draws_tokens_and_colorbar():
    fig = plot_attention(WEIGHTS, SOURCE, TARGET, title="en → fr")
    assert isinstance(fig, Figure)
    ax, colorbar = fig.axes
    assert labels(ax.get_xticklabels()) == SOURCE
    assert labels(ax.get_yticklabels()) == TARGET
    assert ax.get_xticklabels()[0].get_rotation() == 45.0
    assert ax.get_title() == "en → fr"
    assert colorbar.get_ylabel() == "attention weight"
    image = ax.images[0]
    np.testing.assert_allclose(image.get_array(), WEIGHTS)
    assert image.get_clim() == (0.0, 1.0)


def test_plot_attention_trims_padding():
    weights = np.zeros((5, 7))
    weights[:2, :3] = WEIGHTS
    weights[2:, :] = 9.0  # padding rows and columns, never drawn
    weights[:, 3:] = 9.0
    fig = plot_attention(weights, SOURCE, TARGET)
    image = fig.axes[0].images[0]
    assert image.get_array().shape == (2, 3)
    np.testing.assert_allclose(image.get_array(), WEIGHTS)
    assert image.get_clim() == (0.0, 1.0)


def test_plot_attention_scales_to_data_outside_unit_range():
    fig = plot_attention([[-1.0, 3.0]], ["a", "b"], ["x"])
    assert fig.axes[0].images[0].get_clim() == (-1.0, 3.0)


def test_plot_attention_keeps_dollar_signs_literal():
    fig = plot_attention([[0.5, 0.5]], ["$5", "x_1"], ["$"])
    assert labels(fig.axes[0].get_xticklabels()) == ["$5", "x_1"]
    fig.canvas.draw()  # would raise on unbalanced mathtext


def test_plot_attention_writes_png(tmp_path):
    path = tmp_path / "nested" / "deeper" / "attention.png"
    fig = plot_attention(np.array(WEIGHTS), SOURCE, TARGET, path=path)
    assert isinstance(fig, Figure)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 200 and height > 150


def test_plot_attention_into_given_axes():
    fig = Figure()
    ax_left, ax_right = fig.subplots(1, 2)
    returned = plot_attention(WEIGHTS, SOURCE, TARGET, ax=ax_right, cmap="magma")
    assert returned is fig
    assert not ax_left.images
    assert ax_right.images[0].get_cmap().name == "magma"
    assert labels(ax_right.get_yticklabels()) == TARGET


def test_plot_attention_does_not_use_pyplot_figures():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot_attention(WEIGHTS, SOURCE, TARGET)
    assert plt.get_fignums() == before


@pytest.mark.parametrize("source, target, message", [
    (["a", "b", "c", "d"], TARGET,
     r"source_tokens has 4 tokens but weights has only 3 columns \(weights shape "
     r"\(2, 3\)\)"),
    (SOURCE, ["x", "y", "z"],
     r"target_tokens has 3 tokens but weights has only 2 rows \(weights shape "
     r"\(2, 3\)\)"),
    ([], TARGET, r"source_tokens must hold at least one token"),
    (SOURCE, [], r"target_tokens must hold at least one token"),
])
def test_shape_errors(source, target, message):
    with pytest.raises(ValueError, match=message):
        plot_attention(WEIGHTS, source, target)
    with pytest.raises(ValueError, match=message):
        attention_table(WEIGHTS, source, target)


def test_weights_must_be_2d():
    with pytest.raises(ValueError, match=r"weights must be a 2-D array of shape "
                                         r"\(target_len, source_len\), got shape "
                                         r"\(1, 2, 3\)"):
        plot_attention(np.zeros((1, 2, 3)), SOURCE, TARGET)


def test_missing_hangul_font_warns_once(monkeypatch, tmp_path):
    monkeypatch.setattr(plotting, "find_hangul_font", lambda: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plot_attention(WEIGHTS, ["나는", "학생", "이다"], TARGET,
                       path=tmp_path / "ko.png")
    assert [w.category for w in caught] == [UserWarning]
    message = str(caught[0].message)
    assert "no installed font covers Hangul" in message
    assert "fonts-nanum" in message and "fonts-noto-cjk" in message
    assert (tmp_path / "ko.png").read_bytes()[:8] == PNG_SIGNATURE


def test_hangul_in_title_alone_also_warns(monkeypatch):
    monkeypatch.setattr(plotting, "find_hangul_font", lambda: None)
    with pytest.warns(UserWarning, match="fonts-nanum"):
        plot_attention(WEIGHTS, SOURCE, TARGET, title="한국어")


def test_latin_tokens_never_look_for_a_font(monkeypatch):
    def fail():
        raise AssertionError("find_hangul_font must not be called")

    monkeypatch.setattr(plotting, "find_hangul_font", fail)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_attention(WEIGHTS, SOURCE, TARGET, title="Ein Mädchen")
    default = list(matplotlib.rcParams["font.family"])
    assert fig.axes[0].get_xticklabels()[0].get_fontfamily() == default


def test_found_hangul_font_is_the_fallback_family(monkeypatch):
    monkeypatch.setattr(plotting, "find_hangul_font", lambda: "Some Hangul Font")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the made-up family is not installed
        fig = plot_attention(WEIGHTS, ["나는", "학생", "이다"], TARGET)
    expected = [*matplotlib.rcParams["font.family"], "Some Hangul Font"]
    ax = fig.axes[0]
    for text in ax.get_xticklabels() + ax.get_yticklabels():
        assert text.get_fontfamily() == expected


def test_find_hangul_font_agrees_with_the_installed_fonts():
    """Passes with or without a Hangul font; checks the answer either way."""
    from matplotlib import font_manager

    family = find_hangul_font()
    if family is None:
        bundled = os.path.realpath(matplotlib.get_data_path())
        for entry in font_manager.fontManager.ttflist:
            if not os.path.realpath(entry.fname).startswith(bundled + os.sep):
                assert not plotting._covers_hangul(entry.fname), entry.fname
    else:
        path = font_manager.findfont(font_manager.FontProperties(family=family),
                                     fallback_to_default=False)
        assert plotting._covers_hangul(path)


def test_covers_hangul_reads_the_cmap():
    from matplotlib import font_manager

    dejavu = font_manager.findfont("DejaVu Sans")
    assert not plotting._covers_hangul(dejavu)
    assert not plotting._covers_hangul(__file__)  # not a font at all


def test_attention_table_exact():
    assert attention_table(WEIGHTS, SOURCE, TARGET) == (
        "      the  cat  sat\n"
        "le     70   20   10\n"
        "chat    5   15   80"
    )


def test_attention_table_trims_and_widens_for_100():
    weights = [[1.0, 0.0, 0.3], [0.004, 0.996, 0.3], [0.5, 0.5, 0.3]]
    assert attention_table(weights, ["x", "yy"], ["a", "bb"]) == (
        "      x   yy\n"
        "a   100    0\n"
        "bb    0  100"
    )


def test_attention_table_aligns_wide_characters():
    table = attention_table([[0.9, 0.1], [0.25, 0.75]], ["나는", "x"], ["I", "학생"])
    assert table == (
        "      나는    x\n"
        "I       90   10\n"
        "학생    25   75"
    )


def test_blank_tokens_are_visible():
    assert attention_table([[0.5, 0.25, 0.25]], ["a", " ", ""], ["b"]) == (
        "     a    ␣    ␣\n"
        "b   50   25   25"
    )
    fig = plot_attention([[0.5, 0.5]], ["a", "  "], ["b"])
    assert labels(fig.axes[0].get_xticklabels()) == ["a", "␣␣"]


def test_attention_table_top_k():
    weights = [[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]]
    assert attention_table(weights, SOURCE, TARGET, top_k=1) == (
        "      the  cat  sat\n"
        "le      .   60    .\n"
        "chat   50    .    ."
    )
    assert attention_table(weights, SOURCE, TARGET, top_k=3) == (
        attention_table(weights, SOURCE, TARGET))
    with pytest.raises(ValueError, match=r"top_k must be None or a positive int, "
                                         r"got 0"):
        attention_table(weights, SOURCE, TARGET, top_k=0)


def test_module_does_not_import_tensorflow_or_keras():
    tree = ast.parse(pathlib.Path(plotting.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported == {"functools", "os", "unicodedata", "warnings", "numpy",
                        "matplotlib", "fontTools"}
