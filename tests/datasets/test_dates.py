"""Tests for keras_seq2seq.datasets.dates (the date normalisation task)."""

import ast
import datetime
import pathlib
import re

import pytest

from keras_seq2seq.datasets import dates
from keras_seq2seq.datasets.dates import (
    FORMATS,
    MAX_DATE,
    MIN_DATE,
    format_date,
    generate_dates,
    load_dates,
    ordinal,
)

# Every format for 2023-03-03, a Friday, written out by hand.
EXPECTED_2023_03_03 = {
    "d_month_yyyy": "3 March 2023",
    "mon_d_yy": "Mar 3, 23",
    "mm_dd_yyyy_slash": "03/03/2023",
    "m_d_yy_slash": "3/3/23",
    "d_m_yyyy_dot": "3.3.2023",
    "dd_mm_yy_dot": "03.03.23",
    "weekday_month_ordinal_yyyy": "Friday, March 3rd 2023",
    "lower_weekday_d_month_yyyy": "friday 3 march 2023",
    "upper_month_d_yyyy": "MARCH 3, 2023",
    "yyyy_mm_dd_slash": "2023/03/03",
    "yyyymmdd": "20230303",
    "d_mon_yyyy_dash": "3-Mar-2023",
    "korean_weekday": "2023년 3월 3일 금요일",
    "korean": "2023년 3월 3일",
    "korean_dot": "2023. 3. 3.",
    "ordinal_of_month_yyyy": "the 3rd of March, 2023",
    "wkd_d_mon_yyyy": "Fri, 3 Mar 2023",
    "dd_mon_yy_upper": "03 MAR 23",
    "lower_month_ordinal_yyyy": "march 3rd, 2023",
    "upper_wkd_mon_d_yyyy": "FRI MAR 3 2023",
}

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
            "sunday"]
KOREAN_WEEKDAYS = ["월", "화", "수", "목", "금", "토", "일"]


def zeller_weekday(year, month, day):
    """Weekday (0 = Monday) by Zeller's congruence, independent of `datetime`."""
    if month < 3:
        month += 12
        year -= 1
    k, j = year % 100, year // 100
    h = (day + 13 * (month + 1) // 5 + k + k // 4 + j // 4 + 5 * j) % 7  # 0 = Sat
    return (h + 5) % 7


def year_of_yy(yy):
    return 1900 + int(yy) if int(yy) >= 50 else 2000 + int(yy)


def month_of(name):
    name = name.lower()
    matches = [i + 1 for i, month in enumerate(MONTHS) if month.startswith(name)]
    assert len(matches) == 1, name
    return matches[0]


D = r"(\d{1,2})"
DD = r"(\d{2})"
Y = r"(\d{4})"
ORD = r"(\d{1,2})(?:st|nd|rd|th)"
NAME = r"([A-Za-z]+)"

# An independent reader for each format: regex and a function of its groups to
# (year, month, day, weekday name or None).
PARSERS = {
    "d_month_yyyy": (rf"{D} {NAME} {Y}", lambda d, m, y: (y, month_of(m), d, None)),
    "mon_d_yy": (rf"{NAME} {D}, {DD}", lambda m, d, y: (year_of_yy(y), month_of(m), d,
                                                          None)),
    "mm_dd_yyyy_slash": (rf"{DD}/{DD}/{Y}", lambda m, d, y: (y, m, d, None)),
    "m_d_yy_slash": (rf"{D}/{D}/{DD}", lambda m, d, y: (year_of_yy(y), m, d, None)),
    "d_m_yyyy_dot": (rf"{D}\.{D}\.{Y}", lambda d, m, y: (y, m, d, None)),
    "dd_mm_yy_dot": (rf"{DD}\.{DD}\.{DD}", lambda d, m, y: (year_of_yy(y), m, d, None)),
    "weekday_month_ordinal_yyyy": (rf"{NAME}, {NAME} {ORD} {Y}",
                                   lambda w, m, d, y: (y, month_of(m), d, w)),
    "lower_weekday_d_month_yyyy": (rf"{NAME} {D} {NAME} {Y}",
                                   lambda w, d, m, y: (y, month_of(m), d, w)),
    "upper_month_d_yyyy": (rf"{NAME} {D}, {Y}", lambda m, d, y: (y, month_of(m), d,
                                                                  None)),
    "yyyy_mm_dd_slash": (rf"{Y}/{DD}/{DD}", lambda y, m, d: (y, m, d, None)),
    "yyyymmdd": (r"(\d{4})(\d{2})(\d{2})", lambda y, m, d: (y, m, d, None)),
    "d_mon_yyyy_dash": (rf"{D}-{NAME}-{Y}", lambda d, m, y: (y, month_of(m), d, None)),
    "korean_weekday": (rf"{Y}년 {D}월 {D}일 (.)요일", lambda y, m, d, w: (y, m, d, w)),
    "korean": (rf"{Y}년 {D}월 {D}일", lambda y, m, d: (y, m, d, None)),
    "korean_dot": (rf"{Y}\. {D}\. {D}\.", lambda y, m, d: (y, m, d, None)),
    "ordinal_of_month_yyyy": (rf"the {ORD} of {NAME}, {Y}",
                              lambda d, m, y: (y, month_of(m), d, None)),
    "wkd_d_mon_yyyy": (rf"{NAME}, {D} {NAME} {Y}",
                       lambda w, d, m, y: (y, month_of(m), d, w)),
    "dd_mon_yy_upper": (rf"{DD} {NAME} {DD}", lambda d, m, y: (year_of_yy(y),
                                                                month_of(m), d, None)),
    "lower_month_ordinal_yyyy": (rf"{NAME} {ORD}, {Y}",
                                 lambda m, d, y: (y, month_of(m), d, None)),
    "upper_wkd_mon_d_yyyy": (rf"{NAME} {NAME} {D} {Y}",
                             lambda w, m, d, y: (y, month_of(m), d, w)),
}


def parse(source, fmt):
    """Reads `source` written in `fmt` back to an ISO string, checking the weekday."""
    pattern, build = PARSERS[fmt]
    match = re.fullmatch(pattern, source)
    assert match, (fmt, source)
    year, month, day, weekday = build(*match.groups())
    year, month, day = int(year), int(month), int(day)
    if weekday is not None:
        index = zeller_weekday(year, month, day)
        if len(weekday) == 1:  # Korean
            assert weekday == KOREAN_WEEKDAYS[index], source
        else:
            assert WEEKDAYS[index].startswith(weekday.lower()), source
    return f"{year:04d}-{month:02d}-{day:02d}"


@pytest.fixture(scope="module")
def every_source():
    """Maps every surface string of every date in range and every format to its ISO."""
    mapping = {}
    count = 0
    day = MIN_DATE
    while day <= MAX_DATE:
        iso = day.isoformat()
        for fmt in FORMATS:
            source = format_date(day, fmt)
            count += 1
            assert mapping.setdefault(source, iso) == iso, (
                f"{source!r} reads as both {mapping[source]} and {iso}")
        day += datetime.timedelta(days=1)
    return mapping, count


def test_formats_are_many_and_distinct():
    assert len(FORMATS) == len(set(FORMATS)) == 20
    assert set(FORMATS) == set(EXPECTED_2023_03_03)


@pytest.mark.parametrize("fmt", sorted(EXPECTED_2023_03_03))
def test_format_date_example(fmt):
    assert format_date(datetime.date(2023, 3, 3), fmt) == EXPECTED_2023_03_03[fmt]
    assert format_date("2023-03-03", fmt) == EXPECTED_2023_03_03[fmt]


@pytest.mark.parametrize("n, expected", [
    (1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (10, "10th"), (11, "11th"),
    (12, "12th"), (13, "13th"), (21, "21st"), (22, "22nd"), (23, "23rd"),
    (24, "24th"), (30, "30th"), (31, "31st"), (101, "101st"), (111, "111th"),
    (112, "112th"),
])
def test_ordinal(n, expected):
    assert ordinal(n) == expected


def test_ordinal_rejects_zero():
    with pytest.raises(ValueError, match=r"n must be a positive int, got 0"):
        ordinal(0)


def test_known_weekdays_and_ordinals():
    # 2000-01-01 was a Saturday, 1969-07-20 a Sunday, 1950-01-01 a Sunday.
    assert format_date("2000-01-01", "weekday_month_ordinal_yyyy") == (
        "Saturday, January 1st 2000")
    assert format_date("2000-01-01", "korean_weekday") == "2000년 1월 1일 토요일"
    assert format_date("1969-07-20", "lower_weekday_d_month_yyyy") == (
        "sunday 20 july 1969")
    assert format_date("1950-01-01", "wkd_d_mon_yyyy") == "Sun, 1 Jan 1950"
    # 2049-12-31 is 9497 days (5 mod 7) after Sunday 2023-12-31: a Friday.
    assert format_date("2049-12-31", "upper_wkd_mon_d_yyyy") == "FRI DEC 31 2049"
    assert format_date("2021-11-22", "ordinal_of_month_yyyy") == (
        "the 22nd of November, 2021")
    assert format_date("2021-11-12", "lower_month_ordinal_yyyy") == "november 12th, 2021"


def test_two_digit_years_at_the_ends_of_the_range():
    assert format_date("1950-06-15", "mon_d_yy") == "Jun 15, 50"
    assert format_date("1999-12-31", "m_d_yy_slash") == "12/31/99"
    assert format_date("2000-02-29", "m_d_yy_slash") == "2/29/00"
    assert format_date("2049-08-07", "dd_mm_yy_dot") == "07.08.49"
    assert format_date("2049-08-07", "dd_mon_yy_upper") == "07 AUG 49"


def test_us_slashes_are_month_first_and_dots_day_first():
    assert format_date("2023-04-03", "mm_dd_yyyy_slash") == "04/03/2023"
    assert format_date("2023-04-03", "m_d_yy_slash") == "4/3/23"
    assert format_date("2023-04-03", "d_m_yyyy_dot") == "3.4.2023"
    assert format_date("2023-04-03", "dd_mm_yy_dot") == "03.04.23"


def test_every_source_has_exactly_one_reading(every_source):
    """Enumerates all 36525 days x 20 formats: source -> ISO is a function."""
    mapping, count = every_source
    assert count == 36525 * len(FORMATS)
    # No two (date, format) pairs even share a string.
    assert len(mapping) == count
    assert all(len(target) == 10 for target in mapping.values())
    assert max(len(source) for source in mapping) <= 40


def test_independent_parser_reads_back_every_format():
    """Every format read by an independent regex parser (Zeller for weekdays)."""
    day = MIN_DATE
    step = datetime.timedelta(days=97)  # walks through all months and weekdays
    checked = 0
    while day <= MAX_DATE:
        for fmt in FORMATS:
            assert parse(format_date(day, fmt), fmt) == day.isoformat()
            checked += 1
        day += step
    assert checked == 377 * len(FORMATS)


def test_generate_dates_is_deterministic_and_consistent(every_source):
    mapping, _ = every_source
    sources, targets = generate_dates(2000, seed=7)
    assert (sources, targets) == generate_dates(2000, seed=7)
    assert sources != generate_dates(2000, seed=8)[0]
    assert len(sources) == len(targets) == 2000
    assert all(mapping[s] == t for s, t in zip(sources, targets))
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) for t in targets)
    # Formats are uniform: about 1 draw in 20 is the all-digit "yyyymmdd".
    assert 60 <= sum(s.isdigit() for s in sources) <= 140


@pytest.mark.parametrize("fmt", FORMATS)
def test_generate_dates_with_one_format_reads_back(fmt):
    sources, targets = generate_dates(30, seed=2, formats=[fmt])
    assert [parse(s, fmt) for s in sources] == targets


def test_generate_dates_respects_formats():
    sources, targets = generate_dates(50, seed=3, formats=["yyyymmdd"])
    assert sources == [t.replace("-", "") for t in targets]
    sources, targets = generate_dates(50, seed=3, formats=["korean", "korean_dot"])
    assert all(s.startswith(t[:4]) for s, t in zip(sources, targets))


def test_generate_dates_does_not_touch_global_random_state():
    import random

    random.seed(123)
    expected = random.random()
    random.seed(123)
    generate_dates(100, seed=1)
    assert random.random() == expected


def test_load_dates_splits_are_disjoint_and_deduplicated(every_source):
    mapping, _ = every_source
    splits = load_dates(train_size=3000, validation_size=200, test_size=500, seed=1)
    assert list(splits) == ["train", "validation", "test"]
    sizes = {name: len(split[0]) for name, split in splits.items()}
    assert sizes == {"train": 3000, "validation": 200, "test": 500}
    sets = {name: set(split[0]) for name, split in splits.items()}
    assert {name: len(s) for name, s in sets.items()} == sizes  # unique inside
    assert not sets["train"] & sets["validation"]
    assert not sets["train"] & sets["test"]
    assert not sets["validation"] & sets["test"]
    for sources, targets in splits.values():
        assert len(sources) == len(targets)
        assert all(mapping[s] == t for s, t in zip(sources, targets))


def test_load_dates_is_deterministic_and_test_split_is_stable():
    a = load_dates(train_size=100, validation_size=20, test_size=30, seed=5)
    b = load_dates(train_size=100, validation_size=20, test_size=30, seed=5)
    assert a == b
    bigger = load_dates(train_size=400, validation_size=20, test_size=30, seed=5)
    assert bigger["test"] == a["test"]
    assert bigger["validation"] == a["validation"]
    assert bigger["train"][0][:100] == a["train"][0][:100]
    other = load_dates(train_size=100, validation_size=20, test_size=30, seed=6)
    assert other["test"] != a["test"]


def test_load_dates_can_use_every_source_of_a_format():
    splits = load_dates(train_size=36000, validation_size=25, test_size=500, seed=0,
                        formats=["yyyymmdd"])
    everything = [s for sources, _ in splits.values() for s in sources]
    assert len(set(everything)) == 36525


def test_load_dates_rejects_more_pairs_than_sources():
    with pytest.raises(ValueError, match=r"= 36526 exceeds the 36525 distinct"):
        load_dates(train_size=36000, validation_size=26, test_size=500,
                   formats=["yyyymmdd"])


@pytest.mark.parametrize("kwargs, message", [
    ({"train_size": -1}, r"train_size must be a non-negative int, got -1"),
    ({"test_size": 2.5}, r"test_size must be a non-negative int, got 2\.5"),
    ({"formats": ["iso", "korean"]},
     r"unknown format name\(s\) \['iso'\]; valid names are \['d_month_yyyy'"),
    ({"formats": []}, r"formats must name at least one format"),
])
def test_load_dates_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_dates(**kwargs)


@pytest.mark.parametrize("date, fmt, message", [
    ("1949-12-31", "korean", r"between 1950-01-01 and 2049-12-31 .*got 1949-12-31"),
    (datetime.date(2050, 1, 1), "korean", r"got 2050-01-01"),
    ("2023-3-3", "korean", r"ISO 'YYYY-MM-DD' string, got '2023-3-3'"),
    ("2023-02-30", "korean", r"date '2023-02-30' is not a valid date"),
    (20230303, "korean", r"got 20230303 of type int"),
    ("2023-03-03", "iso", r"fmt must be one of \[.*\], got 'iso'"),
])
def test_format_date_errors(date, fmt, message):
    with pytest.raises(ValueError, match=message):
        format_date(date, fmt)


def test_generate_dates_errors():
    with pytest.raises(ValueError, match=r"n must be a non-negative int, got -3"):
        generate_dates(-3)


def test_module_does_not_import_tensorflow_or_keras():
    tree = ast.parse(pathlib.Path(dates.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported == {"datetime", "random", "re"}
