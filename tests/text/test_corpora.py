"""Tests of keras_seq2seq.text.corpora (tiny files written to tmp_path)."""

import pytest

from keras_seq2seq.text.corpora import (
    Corpus,
    CorpusError,
    read_lines,
    read_parallel_files,
    read_tsv_pairs,
)


def write(path, data):
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


ANKI = (
    "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\n"
    "Hi.\tSalut !\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123\n"
    "Où ?\tWhere?\tattribution\n"
)


def test_tsv_anki_layout_and_direction(tmp_path):
    path = write(tmp_path / "fra.txt", ANKI)
    corpus = read_tsv_pairs(path)
    assert corpus.sources == ["Go.", "Hi.", "Où ?"]
    assert corpus.targets == ["Va !", "Salut !", "Where?"]
    assert corpus.skipped == 0 and len(corpus) == 3
    assert list(corpus)[1] == ("Hi.", "Salut !")

    reverse = read_tsv_pairs(path, source_column=1, target_column=0)
    assert reverse.sources == corpus.targets and reverse.targets == corpus.sources
    assert corpus.swapped() == reverse


def test_tsv_crlf_bom_and_trailing_blank_lines(tmp_path):
    data = b"\xef\xbb\xbfa\tb\r\nc\td\r\n\r\n\n"
    corpus = read_tsv_pairs(write(tmp_path / "x.tsv", data))
    assert corpus.sources == ["a", "c"] and corpus.targets == ["b", "d"]


def test_tsv_only_splits_on_newline(tmp_path):
    # U+2028 and U+0085 are line breaks for str.splitlines, not for the reader.
    corpus = read_tsv_pairs(write(tmp_path / "x.tsv", "a\u2028b\tc\u0085d\n"))
    assert corpus.sources == ["a\u2028b"] and corpus.targets == ["c\u0085d"]


def test_tsv_missing_tab_raises_with_file_and_line(tmp_path):
    path = write(tmp_path / "bad.tsv", "a\tb\nno tab here\nc\td\n")
    with pytest.raises(CorpusError, match=r"bad\.tsv, line 2: .*columns") as info:
        read_tsv_pairs(path)
    assert isinstance(info.value, ValueError)
    assert info.value.line == 2 and info.value.path == str(path)

    corpus = read_tsv_pairs(path, on_error="skip")
    assert corpus.sources == ["a", "c"] and corpus.skipped == 1


def test_tsv_too_few_columns_for_requested_column(tmp_path):
    path = write(tmp_path / "x.tsv", "a\tb\tc\nd\te\n")
    with pytest.raises(CorpusError, match="line 2"):
        read_tsv_pairs(path, source_column=2, target_column=0)
    corpus = read_tsv_pairs(path, source_column=2, target_column=0, on_error="skip")
    assert corpus == Corpus(["c"], ["a"], 1)


def test_tsv_invalid_utf8_and_empty_fields(tmp_path):
    path = write(tmp_path / "x.tsv", b"a\tb\n\xff\xfe\tc\n\td\n\ne\tf\n")
    with pytest.raises(CorpusError, match=r"line 2: invalid UTF-8"):
        read_tsv_pairs(path)
    corpus = read_tsv_pairs(path, on_error="skip")
    # line 2: bad bytes, line 3: empty source, line 4: blank line inside the file
    assert corpus.sources == ["a", "e"] and corpus.skipped == 3
    blank_inside = write(tmp_path / "y.tsv", "a\tb\nc\td\n\n\ne\tf\n")
    with pytest.raises(CorpusError, match=r"line 3: empty line"):
        read_tsv_pairs(blank_inside)


def test_tsv_empty_file_and_bad_arguments(tmp_path):
    empty = write(tmp_path / "empty.tsv", "")
    with pytest.raises(CorpusError, match=r"empty\.tsv: the file is empty"):
        read_tsv_pairs(empty)
    with pytest.raises(CorpusError, match="no usable sentence pair"):
        read_tsv_pairs(write(tmp_path / "bad.tsv", "x\ny\n"), on_error="skip")
    path = write(tmp_path / "ok.tsv", "a\tb\n")
    with pytest.raises(ValueError, match="on_error"):
        read_tsv_pairs(path, on_error="ignore")
    with pytest.raises(ValueError, match="differ"):
        read_tsv_pairs(path, source_column=1, target_column=1)
    with pytest.raises(ValueError, match="non-negative"):
        read_tsv_pairs(path, source_column=-1)


def test_parallel_files(tmp_path):
    source = write(tmp_path / "train.de", "Zwei Männer.\r\nEin Hund.\n")
    target = write(tmp_path / "train.en", "Two men.\nA dog.\n\n")
    corpus = read_parallel_files(source, target)
    assert corpus == Corpus(["Zwei Männer.", "Ein Hund."], ["Two men.", "A dog."], 0)


def test_parallel_line_count_mismatch_always_raises(tmp_path):
    source = write(tmp_path / "a.de", "1\n2\n3\n")
    target = write(tmp_path / "a.en", "1\n2\n")
    for on_error in ("raise", "skip"):
        with pytest.raises(
            CorpusError, match=r"a\.de, line 3: line-count mismatch"
        ) as info:
            read_parallel_files(source, target, on_error=on_error)
        assert "a.en has 2 lines" in str(info.value)


def test_parallel_bad_lines(tmp_path):
    source = write(tmp_path / "s.txt", b"ok\n\xc3\x28\nfine\n\nlast\n")
    target = write(tmp_path / "t.txt", b"ok\nbad\nfine\nx\n\n")
    # The blank last line of t.txt is a trailing blank line: 4 lines against 5.
    with pytest.raises(CorpusError, match="line-count mismatch"):
        read_parallel_files(source, target)

    target = write(tmp_path / "t.txt", b"ok\nbad\nfine\nx\ny\n")
    with pytest.raises(CorpusError, match=r"s\.txt, line 2: invalid UTF-8"):
        read_parallel_files(source, target)
    corpus = read_parallel_files(source, target, on_error="skip")
    assert corpus.sources == ["ok", "fine", "last"]
    assert corpus.targets == ["ok", "fine", "y"]
    assert corpus.skipped == 2  # invalid UTF-8 (line 2), empty source (line 4)


def test_parallel_empty_files(tmp_path):
    full = write(tmp_path / "full.txt", "a\n")
    with pytest.raises(CorpusError, match=r"empty\.txt: the file is empty"):
        read_parallel_files(full, write(tmp_path / "empty.txt", ""))
    with pytest.raises(CorpusError, match="only blank lines"):
        read_parallel_files(write(tmp_path / "blank.txt", "\n\n"), full)


def test_read_lines(tmp_path):
    path = write(tmp_path / "x.txt", b" one \r\n\ntwo\n\xff\n")
    with pytest.raises(CorpusError, match="line 4"):
        read_lines(path)
    assert read_lines(path, on_error="skip") == ["one", "two"]
    assert read_lines(path, on_error="skip", skip_empty=False) == ["one", "", "two"]


def test_split_folder_reads_each_split_and_names_missing_files(tmp_path):
    from keras_seq2seq.text.corpora import read_split_folder

    for stem, pairs in (("train", [("Ein Hund.", "A dog."), ("Zwei.", "Two.")]),
                        ("val", [("Katze.", "Cat.")]),
                        ("test_2016_flickr", [("Haus.", "House.")])):
        write(tmp_path / f"{stem}.de", "".join(s + "\n" for s, _ in pairs))
        write(tmp_path / f"{stem}.en", "".join(t + "\n" for _, t in pairs))
    splits = read_split_folder(tmp_path, "de", "en")
    assert list(splits) == ["train", "validation", "test"]
    assert splits["train"].sources == ["Ein Hund.", "Zwei."]
    assert splits["validation"].targets == ["Cat."]
    assert (splits["test"].sources, splits["test"].targets) == (["Haus."], ["House."])
    # on_error reaches every file: an empty sentence raises, or is skipped and counted.
    write(tmp_path / "train.en", "   \nTwo.\n")
    with pytest.raises(CorpusError, match=r"train\.en, line 1"):
        read_split_folder(tmp_path)
    skipped = read_split_folder(tmp_path, on_error="skip")["train"]
    assert (skipped.targets, skipped.skipped) == (["Two."], 1)
    # The other direction and a custom split layout.
    reverse = read_split_folder(tmp_path, "en", "de", splits={"dev": "val"})
    assert list(reverse) == ["dev"] and reverse["dev"].sources == ["Cat."]
    (tmp_path / "val.en").unlink()
    with pytest.raises(CorpusError, match=r"val\.en.*missing 1 of the 6 files"):
        read_split_folder(tmp_path)
