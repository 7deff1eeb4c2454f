"""Attention heat maps and plain-text attention tables.

`plot_attention` draws a ``(target_len, source_len)`` attention matrix with the source
tokens on the x axis and the target tokens on the y axis. It builds a bare
`matplotlib.figure.Figure` (rendered with Agg when saved), never touches `pyplot` or
its global figure list, and so needs no display and leaks no figures.

Tokens in Hangul (or other CJK scripts) need a font that covers them; the default
DejaVu Sans does not. `has_cjk` tells such text, `find_hangul_font` looks for a font
that covers it, and when none is installed `plot_attention` warns once per call and
names the Debian packages that provide one (``fonts-nanum`` or ``fonts-noto-cjk``).

`attention_table` prints the same matrix as aligned text for terminals, counting wide
(CJK) characters as two columns.

This module does not import TensorFlow: pass weights as anything `numpy.asarray`
accepts (a NumPy array, nested lists, an eager tensor).
"""

import functools
import os
import unicodedata
import warnings

import numpy as np

__all__ = ["attention_table", "find_hangul_font", "has_cjk", "plot_attention"]

HANGUL_FONT_FAMILIES = (
    "NanumGothic",
    "NanumBarunGothic",
    "Noto Sans CJK KR",
    "Noto Sans KR",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Serif CJK KR",
    "UnDotum",
    "Baekmuk Gulim",
    "Malgun Gothic",
    "Apple SD Gothic Neo",
    "AppleGothic",
    "Source Han Sans KR",
)
"""Font families known to cover Hangul, in order of preference."""

# Unicode blocks that DejaVu Sans lacks and that call for a CJK font.
_CJK_RANGES = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3000, 0x30FF),  # CJK punctuation, Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility Jamo
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended A
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xD7B0, 0xD7FF),  # Hangul Jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # half/full-width forms
)

_MISSING_FONT_MESSAGE = (
    "The attention plot has Hangul/CJK text but no installed font covers Hangul, so "
    "those characters will be drawn as empty boxes. Install one, e.g. on Debian/Ubuntu "
    "`apt-get install fonts-nanum` (or `fonts-noto-cjk`), then restart Python."
)

_GLYPH_WARNING = r"Glyph \d+ .*missing from font"


def has_cjk(texts):
    """Whether any of the strings holds a Hangul/CJK character: one that needs a
    font `find_hangul_font` finds (the default DejaVu Sans lacks it).

    Args:
        texts: an iterable of `str`.
    """
    for text in texts:
        for char in text:
            code = ord(char)
            if any(low <= code <= high for low, high in _CJK_RANGES):
                return True
    return False


def _covers_hangul(path):
    """Whether the font file at `path` maps U+AC00 (가) to a glyph."""
    try:
        from fontTools.ttLib import TTFont
    except ImportError:  # fontTools ships with matplotlib, but be safe.
        return False
    try:
        font = TTFont(path, fontNumber=0, lazy=True)
        try:
            cmap = font.getBestCmap() or {}
            return 0xAC00 in cmap
        finally:
            font.close()
    except Exception:  # unreadable or unsupported font file
        return False


@functools.lru_cache(maxsize=None)
def find_hangul_font():
    """Finds an installed font family that covers Hangul.

    Looks first for the families in `HANGUL_FONT_FAMILIES` among the fonts matplotlib
    knows; then reads the character map of every other installed font (including
    system fonts installed after matplotlib built its font cache, which are then
    registered with matplotlib) for U+AC00. matplotlib's own fonts (DejaVu, STIX,
    Computer Modern, Last Resort) are skipped: they have no real Hangul glyphs. The
    result is cached; call ``find_hangul_font.cache_clear()`` after installing a font.

    Returns:
        The font family name as matplotlib knows it (usable as ``fontfamily``), e.g.
        ``"NanumGothic"``, or `None` when no installed font covers Hangul.
    """
    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    # A stale font cache may list fonts that were uninstalled since: check the files.
    names = {entry.name for entry in manager.ttflist if os.path.isfile(entry.fname)}
    for family in HANGUL_FONT_FAMILIES:
        if family in names:
            return family

    bundled = os.path.realpath(matplotlib.get_data_path())
    known = {}
    for entry in manager.ttflist:
        known.setdefault(os.path.realpath(entry.fname), entry.name)
    try:
        system_fonts = font_manager.findSystemFonts()
    except Exception:  # fc-list missing or failing
        system_fonts = []
    candidates = list(known) + [os.path.realpath(path) for path in system_fonts
                                if os.path.realpath(path) not in known]
    covering = []
    for path in dict.fromkeys(candidates):
        if path.startswith(bundled + os.sep) or not os.path.isfile(path):
            continue
        if not _covers_hangul(path):
            continue
        if path in known:
            name = known[path]
        else:  # installed after matplotlib built its font cache: register it
            try:
                manager.addfont(path)
                name = font_manager.FontProperties(fname=path).get_name()
            except Exception:
                continue
        if "last resort" not in name.lower():
            covering.append(name)
    for family in HANGUL_FONT_FAMILIES:
        if family in covering:
            return family
    return covering[0] if covering else None


def _visible(token):
    """The label of a token: blank tokens (``" "``, ``""``) are shown as ``"␣"``."""
    token = str(token)
    if not token.strip():
        return "\u2423" * max(len(token), 1)
    return token


def _prepare(weights, source_tokens, target_tokens):
    """Validates the inputs; returns (trimmed 2-D float weights, sources, targets)."""
    array = np.asarray(weights, dtype=float)
    if array.ndim != 2:
        raise ValueError(
            f"weights must be a 2-D array of shape (target_len, source_len), got "
            f"shape {array.shape}."
        )
    source = [_visible(token) for token in source_tokens]
    target = [_visible(token) for token in target_tokens]
    if not source:
        raise ValueError("source_tokens must hold at least one token, got none.")
    if not target:
        raise ValueError("target_tokens must hold at least one token, got none.")
    if len(target) > array.shape[0]:
        raise ValueError(
            f"target_tokens has {len(target)} tokens but weights has only "
            f"{array.shape[0]} rows (weights shape {array.shape}); pass at most "
            f"{array.shape[0]} target tokens."
        )
    if len(source) > array.shape[1]:
        raise ValueError(
            f"source_tokens has {len(source)} tokens but weights has only "
            f"{array.shape[1]} columns (weights shape {array.shape}); pass at most "
            f"{array.shape[1]} source tokens."
        )
    return array[:len(target), :len(source)], source, target


def plot_attention(weights, source_tokens, target_tokens, path=None, title=None, ax=None,
                   cmap="viridis"):
    """Draws an attention matrix as a heat map with the tokens on its axes.

    Args:
        weights: 2-D array-like of shape ``(target_len, source_len)``; row ``i`` holds
            the attention of target step ``i`` over the source. Only the first
            ``len(target_tokens)`` rows and ``len(source_tokens)`` columns are drawn
            (padding is trimmed). The colour scale is fixed to 0..1 when all weights
            lie in it, otherwise it spans the data.
        source_tokens: sequence of source tokens (x axis, rotated labels). A string
            is a sequence of characters. Blank tokens (a space in a character-level
            sequence) are labelled ``"␣"`` (one per whitespace character).
        target_tokens: sequence of target tokens (y axis).
        path: if given, the figure is written there as a PNG (parent directories are
            created).
        title: optional title.
        ax: optional matplotlib `Axes` to draw into; by default a new `Figure` sized
            to the token counts is made.
        cmap: matplotlib colour map name.

    Returns:
        The matplotlib `Figure` (the root figure of `ax` when `ax` is given).

    Raises:
        ValueError: when `weights` is not 2-D, a token list is empty, or there are
            more tokens than weight rows/columns.

    Warns:
        UserWarning: once per call, when the tokens or title hold Hangul/CJK text and
            no installed font covers Hangul (`find_hangul_font` returns `None`).
    """
    array, source, target = _prepare(weights, source_tokens, target_tokens)
    texts = source + target + ([str(title)] if title is not None else [])
    font_kwargs = {}
    missing_font = False
    if has_cjk(texts):
        family = find_hangul_font()
        if family is None:
            missing_font = True
            warnings.warn(_MISSING_FONT_MESSAGE, UserWarning, stacklevel=2)
        else:
            # Keep the user's default font for Latin text; the Hangul font is the
            # per-glyph fallback (matplotlib >= 3.6).
            import matplotlib

            font_kwargs = {"fontfamily": [*matplotlib.rcParams["font.family"], family]}

    if ax is None:
        from matplotlib.figure import Figure

        width = min(max(4.0, 2.5 + 0.4 * len(source)), 40.0)
        height = min(max(3.0, 1.5 + 0.4 * len(target)), 40.0)
        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.add_subplot()
    else:
        try:
            fig = ax.get_figure(root=True)
        except TypeError:  # matplotlib < 3.10
            fig = ax.figure

    finite = array[np.isfinite(array)]
    in_unit_range = finite.size > 0 and finite.min() >= 0.0 and finite.max() <= 1.0
    limits = {"vmin": 0.0, "vmax": 1.0} if in_unit_range else {}
    image = ax.imshow(array, cmap=cmap, aspect="auto", interpolation="nearest",
                      **limits)
    ax.set_xticks(range(len(source)))
    ax.set_xticklabels(source, rotation=45, ha="right", rotation_mode="anchor",
                       parse_math=False, **font_kwargs)
    ax.set_yticks(range(len(target)))
    ax.set_yticklabels(target, parse_math=False, **font_kwargs)
    ax.set_xlabel("source")
    ax.set_ylabel("target")
    if title is not None:
        ax.set_title(str(title), parse_math=False, **font_kwargs)
    fig.colorbar(image, ax=ax, label="attention weight")

    if path is not None:
        path = os.fspath(path)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        with warnings.catch_warnings():
            if missing_font:  # already warned once; drop one warning per glyph
                warnings.filterwarnings("ignore", message=_GLYPH_WARNING)
            fig.savefig(path, format="png", dpi=100, bbox_inches="tight")
    return fig


def _display_width(text):
    """Terminal columns taken by `text`: wide/full-width characters count twice."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _pad_left(text, width):
    return " " * (width - _display_width(text)) + text


def _pad_right(text, width):
    return text + " " * (width - _display_width(text))


def attention_table(weights, source_tokens, target_tokens, top_k=None):
    """Formats an attention matrix as an aligned plain-text table.

    Rows are target tokens, columns source tokens, and each cell is the weight as a
    rounded percentage (``0.7 -> "70"``; non-finite weights show as ``"nan"``). With
    `top_k`, only the `top_k` largest weights of each row are printed and the other
    cells show ``"."``. Blank tokens are shown as ``"␣"``. Columns are right-aligned
    and separated by two spaces; wide (CJK) characters count as two columns so the
    table stays aligned in terminals. Lines carry no trailing spaces.

    For example, weights ``[[0.7, 0.2, 0.1], [0.05, 0.15, 0.8]]`` with source tokens
    ``["the", "cat", "sat"]`` and target tokens ``["le", "chat"]`` give::

              the  cat  sat
        le     70   20   10
        chat    5   15   80

    Args:
        weights: 2-D array-like of shape ``(target_len, source_len)``, trimmed to the
            token counts as in `plot_attention`.
        source_tokens: sequence of source tokens (column headers).
        target_tokens: sequence of target tokens (row labels).
        top_k: optional positive `int`: show only the `top_k` largest weights of
            each row.

    Returns:
        The table as a `str` of lines joined by ``"\\n"`` (no final newline).

    Raises:
        ValueError: for the shape errors of `plot_attention` or a `top_k` that is not
            a positive int.
    """
    array, source, target = _prepare(weights, source_tokens, target_tokens)
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                              or top_k < 1):
        raise ValueError(f"top_k must be None or a positive int, got {top_k!r}.")

    cells = []
    for row in array:
        if top_k is not None and top_k < len(row):
            order = np.argsort(-np.nan_to_num(row, nan=-np.inf), kind="stable")
            shown = set(order[:top_k].tolist())
        else:
            shown = set(range(len(row)))
        cells.append([
            ("nan" if not np.isfinite(value) else str(int(round(float(value) * 100))))
            if j in shown else "."
            for j, value in enumerate(row)
        ])

    label_width = max(_display_width(token) for token in target)
    column_widths = [
        max([_display_width(token), 3] + [len(row[j]) for row in cells])
        for j, token in enumerate(source)
    ]
    lines = [" " * label_width + "".join(
        "  " + _pad_left(token, width) for token, width in zip(source, column_widths))]
    for token, row in zip(target, cells):
        lines.append(_pad_right(token, label_width) + "".join(
            "  " + _pad_left(cell, width) for cell, width in zip(row, column_widths)))
    return "\n".join(line.rstrip() for line in lines)
