"""Date normalisation: many human surface forms of a date -> ISO ``YYYY-MM-DD``.

A synthetic sequence-to-sequence task made entirely by this module (nothing is
downloaded). Each example pairs a source string such as ``"Friday, March 3rd 2023"``,
``"3/3/23"`` or ``"2023년 3월 3일 금요일"`` with its ISO target ``"2023-03-03"``.

Every surface form has exactly one reading:

* dates are restricted to ``MIN_DATE`` .. ``MAX_DATE`` (1950-01-01 .. 2049-12-31), so a
  two-digit year maps to one year only (``50``-``99`` -> 19xx, ``00``-``49`` -> 20xx);
* slashes with the year last are always US month/day/year (``"03/04/2023"`` is
  March 4th), never day/month; dots with the year last are always European
  day.month.year (``"4.3.2023"`` is March 4th);
* weekday names are the true weekday of the date;
* no two formats ever produce the same string (the tests enumerate every date in the
  range in every format to check that the mapping source -> target is a function).

Sources are at most 30 characters long; targets are always exactly 10.

This module is pure Python (no TensorFlow).
"""

import datetime
import random
import re

__all__ = [
    "FORMATS",
    "MAX_DATE",
    "MIN_DATE",
    "format_date",
    "generate_dates",
    "load_dates",
    "ordinal",
]

MIN_DATE = datetime.date(1950, 1, 1)
"""The earliest date the task uses (inclusive)."""

MAX_DATE = datetime.date(2049, 12, 31)
"""The latest date the task uses (inclusive)."""

_NUM_DAYS = (MAX_DATE - MIN_DATE).days + 1

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
_WEEKDAYS = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
)
_KOREAN_WEEKDAYS = ("월", "화", "수", "목", "금", "토", "일")  # Monday first


def ordinal(n):
    """Returns the English ordinal of a positive integer.

    Args:
        n: a positive `int`, e.g. a day of the month.

    Returns:
        The ordinal as a `str`: ``1 -> "1st"``, ``2 -> "2nd"``, ``3 -> "3rd"``,
        ``4 -> "4th"``, ``11 -> "11th"``, ``12 -> "12th"``, ``13 -> "13th"``,
        ``21 -> "21st"``, ``22 -> "22nd"``, ``23 -> "23rd"``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}.")
    if 11 <= n % 100 <= 13:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _month(d):
    return _MONTHS[d.month - 1]


def _mon(d):
    return _MONTHS[d.month - 1][:3]


def _weekday(d):
    return _WEEKDAYS[d.weekday()]


def _wkd(d):
    return _WEEKDAYS[d.weekday()][:3]


def _yy(d):
    return f"{d.year % 100:02d}"


# name -> function(date) -> str; the example in each comment is 2023-03-03 (a Friday).
_FORMATTERS = {
    # 3 March 2023
    "d_month_yyyy": lambda d: f"{d.day} {_month(d)} {d.year}",
    # Mar 3, 23
    "mon_d_yy": lambda d: f"{_mon(d)} {d.day}, {_yy(d)}",
    # 03/03/2023 (US month/day/year)
    "mm_dd_yyyy_slash": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",
    # 3/3/23 (US month/day/year)
    "m_d_yy_slash": lambda d: f"{d.month}/{d.day}/{_yy(d)}",
    # 3.3.2023 (European day.month.year)
    "d_m_yyyy_dot": lambda d: f"{d.day}.{d.month}.{d.year}",
    # 03.03.23 (European day.month.year)
    "dd_mm_yy_dot": lambda d: f"{d.day:02d}.{d.month:02d}.{_yy(d)}",
    # Friday, March 3rd 2023
    "weekday_month_ordinal_yyyy": (
        lambda d: f"{_weekday(d)}, {_month(d)} {ordinal(d.day)} {d.year}"
    ),
    # friday 3 march 2023
    "lower_weekday_d_month_yyyy": (
        lambda d: f"{_weekday(d)} {d.day} {_month(d)} {d.year}".lower()
    ),
    # MARCH 3, 2023
    "upper_month_d_yyyy": lambda d: f"{_month(d)} {d.day}, {d.year}".upper(),
    # 2023/03/03
    "yyyy_mm_dd_slash": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    # 20230303
    "yyyymmdd": lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
    # 3-Mar-2023
    "d_mon_yyyy_dash": lambda d: f"{d.day}-{_mon(d)}-{d.year}",
    # 2023년 3월 3일 금요일
    "korean_weekday": (
        lambda d: f"{d.year}년 {d.month}월 {d.day}일 {_KOREAN_WEEKDAYS[d.weekday()]}요일"
    ),
    # 2023년 3월 3일
    "korean": lambda d: f"{d.year}년 {d.month}월 {d.day}일",
    # 2023. 3. 3.
    "korean_dot": lambda d: f"{d.year}. {d.month}. {d.day}.",
    # the 3rd of March, 2023
    "ordinal_of_month_yyyy": lambda d: f"the {ordinal(d.day)} of {_month(d)}, {d.year}",
    # Fri, 3 Mar 2023
    "wkd_d_mon_yyyy": lambda d: f"{_wkd(d)}, {d.day} {_mon(d)} {d.year}",
    # 03 MAR 23
    "dd_mon_yy_upper": lambda d: f"{d.day:02d} {_mon(d)} {_yy(d)}".upper(),
    # march 3rd, 2023
    "lower_month_ordinal_yyyy": (
        lambda d: f"{_month(d)} {ordinal(d.day)}, {d.year}".lower()
    ),
    # FRI MAR 3 2023
    "upper_wkd_mon_d_yyyy": (
        lambda d: f"{_wkd(d)} {_mon(d)} {d.day} {d.year}".upper()
    ),
}

FORMATS = list(_FORMATTERS)
"""Names of the surface formats, in a fixed order (20 formats)."""

_ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _as_date(date):
    """Converts a `datetime.date`/`datetime.datetime`/ISO string to an in-range date."""
    if isinstance(date, datetime.datetime):
        date = date.date()
    elif isinstance(date, str):
        if not _ISO_RE.fullmatch(date):
            raise ValueError(
                f"date must be a datetime.date or an ISO 'YYYY-MM-DD' string, "
                f"got {date!r}."
            )
        try:
            date = datetime.date.fromisoformat(date)
        except ValueError as error:
            raise ValueError(f"date {date!r} is not a valid date: {error}.") from None
    elif not isinstance(date, datetime.date):
        raise ValueError(
            f"date must be a datetime.date or an ISO 'YYYY-MM-DD' string, got "
            f"{date!r} of type {type(date).__name__}."
        )
    if not MIN_DATE <= date <= MAX_DATE:
        raise ValueError(
            f"date must lie between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()} "
            f"(so that two-digit years have one reading), got {date.isoformat()}."
        )
    return date


def _check_formats(formats):
    """Validates `formats` and returns it as a list of names (all formats for None)."""
    if formats is None:
        return list(FORMATS)
    if isinstance(formats, str):
        formats = [formats]
    formats = list(formats)
    if not formats:
        raise ValueError(f"formats must name at least one format of {FORMATS}, got [].")
    unknown = [name for name in formats if name not in _FORMATTERS]
    if unknown:
        raise ValueError(
            f"formats contains unknown format name(s) {unknown!r}; valid names are "
            f"{FORMATS}."
        )
    return formats


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}.")


def format_date(date, fmt):
    """Writes a date in one of the surface formats.

    Args:
        date: a `datetime.date` (or `datetime.datetime`, whose time is ignored) or an
            ISO ``"YYYY-MM-DD"`` string, between `MIN_DATE` and `MAX_DATE`.
        fmt: a format name from `FORMATS`, e.g. ``"weekday_month_ordinal_yyyy"``.

    Returns:
        The surface string, e.g. ``format_date("2023-03-03",
        "weekday_month_ordinal_yyyy") == "Friday, March 3rd 2023"``.

    Raises:
        ValueError: for an unknown `fmt`, a malformed date or a date out of range.
    """
    if fmt not in _FORMATTERS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}.")
    return _FORMATTERS[fmt](_as_date(date))


def _draw(rng, formats):
    """Draws one (source, target) pair: a uniform date and a uniform format."""
    date = MIN_DATE + datetime.timedelta(days=rng.randrange(_NUM_DAYS))
    fmt = formats[rng.randrange(len(formats))]
    return _FORMATTERS[fmt](date), date.isoformat()


def generate_dates(n, seed=0, formats=None):
    """Generates random (surface form, ISO date) pairs.

    Dates are uniform over `MIN_DATE` .. `MAX_DATE` and formats uniform over
    `formats`, drawn from `random.Random(seed)` (no global random state), so the
    result depends only on the arguments. Sources may repeat; use `load_dates` for
    de-duplicated splits.

    Args:
        n: number of pairs, a non-negative `int`.
        seed: seed of the random generator.
        formats: format names to draw from (default: all of `FORMATS`).

    Returns:
        A tuple ``(sources, targets)`` of two lists of `n` strings; each target is the
        10-character ISO date ``"YYYY-MM-DD"`` that its source denotes.
    """
    _check_size("n", n)
    formats = _check_formats(formats)
    rng = random.Random(seed)
    sources, targets = [], []
    for _ in range(n):
        source, target = _draw(rng, formats)
        sources.append(source)
        targets.append(target)
    return sources, targets


def load_dates(train_size=20000, validation_size=1000, test_size=5000, seed=0,
               formats=None):
    """Makes train/validation/test splits of the date normalisation task.

    Pairs are drawn as in `generate_dates` and every source string is kept at most
    once over the whole dataset: sources are unique inside each split and no source
    appears in two splits. The test split is drawn first, then validation, then
    train, so for a given `seed` and `formats` the test split depends only on
    `test_size` and the validation split only on `test_size` and
    `validation_size` (growing the training set leaves them unchanged).

    Args:
        train_size: number of training pairs.
        validation_size: number of validation pairs.
        test_size: number of test pairs.
        seed: seed of the random generator (`random.Random(seed)`).
        formats: format names to draw from (default: all of `FORMATS`).

    Returns:
        A `dict` with keys ``"train"``, ``"validation"`` and ``"test"``, each a tuple
        ``(sources, targets)`` of two lists of strings.

    Raises:
        ValueError: for a negative size, unknown formats, or more pairs asked for than
            distinct sources exist (``36525 * len(set(formats))``).
    """
    for name, value in (("train_size", train_size),
                        ("validation_size", validation_size),
                        ("test_size", test_size)):
        _check_size(name, value)
    formats = _check_formats(formats)
    total = train_size + validation_size + test_size
    capacity = _NUM_DAYS * len(set(formats))
    if total > capacity:
        raise ValueError(
            f"train_size + validation_size + test_size = {total} exceeds the "
            f"{capacity} distinct sources that {len(set(formats))} format(s) over "
            f"{_NUM_DAYS} days can give; ask for at most {capacity} pairs."
        )
    rng = random.Random(seed)
    seen = set()
    sources, targets = [], []
    while len(sources) < total:
        source, target = _draw(rng, formats)
        if source in seen:
            continue
        seen.add(source)
        sources.append(source)
        targets.append(target)
    splits = {}
    start = 0
    for name, size in (("test", test_size), ("validation", validation_size),
                       ("train", train_size)):
        splits[name] = (sources[start:start + size], targets[start:start + size])
        start += size
    return {name: splits[name] for name in ("train", "validation", "test")}
