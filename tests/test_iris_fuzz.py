"""The shipped iris CSV, corrupted at random: every file either loads exactly as an independent
reference reader says it should, or raises a ValueError naming the first bad line.

The reference below is written from the format's description (iris.py's docstring), not from the
loader: lines end at \\n, \\r\\n or \\r; a UTF-8 byte-order mark may open the file; fields are
split at commas with no quoting; a measurement is a plain decimal (digits, optionally a point
and digits) above 0; spaces and tabs around a field are allowed, other invisible characters are
not; exactly 50 flowers of each species.
"""

import codecs
import os
import re

import numpy as np
import pytest
from hostile import deadline
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from tinygrad_iris.iris import DEFAULT_PATH, load_iris

HEADER = ("sepal_length", "sepal_width", "petal_length", "petal_width", "species")
SPECIES = ("Setosa", "Versicolor", "Virginica")
ORIGINAL = DEFAULT_PATH.read_bytes()
ORIGINAL_LINES = ORIGINAL.decode("ascii").split("\n")[:-1]  # the shipped file ends with \n, uses \n
BLANKS = " \t"  # spaces and tabs; not the other characters str.strip() removes
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_DECIMAL = re.compile(r"\d+(\.\d*)?|\.\d+", re.ASCII)
_CHEAP = settings(max_examples=settings().max_examples * 10)  # about a millisecond each


def reference(data):
    """(measurements, labels) for a valid file, else the number of its first bad line."""
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        return len(_LINE_BREAK.split(data[: err.start].decode("utf-8")))
    lines = _LINE_BREAK.split(text)
    if lines[-1] == "":  # the break after the last line ends it; it does not start another
        lines.pop()
    if not lines or [field.strip(BLANKS) for field in lines[0].split(",")] != list(HEADER):
        return 1
    rows, labels = [], []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != 5 or fields[4].strip(BLANKS) not in SPECIES:
            return number
        texts = [field.strip(BLANKS) for field in fields[:4]]
        if not all(_DECIMAL.fullmatch(t) and 0 < float(t) < float("inf") for t in texts):
            return number
        label = SPECIES.index(fields[4].strip(BLANKS))
        if labels.count(label) == 50:
            return number
        rows.append([float(t) for t in texts])
        labels.append(label)
    if len(labels) != 150:
        return len(lines)
    return np.array(rows), np.array(labels)


def check(tmp_path_factory, data):
    """Load ``data`` with the library and hold it to the reference."""
    path = tmp_path_factory.mktemp("iris") / "iris.csv"
    path.write_bytes(data)
    expected = reference(data)
    if isinstance(expected, int):
        with pytest.raises(ValueError) as info:
            load_iris(path)
        assert f"{path}, line {expected}:" in str(info.value)
        assert "\n" not in str(info.value)
        return "refused"
    measurements, labels = expected
    loaded = load_iris(path)
    np.testing.assert_array_equal(loaded.measurements, measurements)
    np.testing.assert_array_equal(loaded.labels, labels)
    for column, measured in ((0, 3), (1, 1)):  # the inputs: petal width, sepal width, min-max scaled
        cm = measurements[:, measured]
        np.testing.assert_array_equal(loaded.X[:, column], (cm - cm.min()) / (cm.max() - cm.min()))
    return "loaded"


def test_the_reference_accepts_the_shipped_file_and_agrees_with_the_loader(tmp_path_factory):
    assert check(tmp_path_factory, ORIGINAL) == "loaded"
    assert reference(ORIGINAL[:-1]) != 1  # no final line break is still a whole file
    assert reference(ORIGINAL + b"\n") == 152  # a blank line is a short line


# ----- mutations of one line ---------------------------------------------------------------------------
_NUMBER_TEXTS = st.one_of(
    st.sampled_from(
        [
            "5.1",
            "0.3",
            "10",
            ".5",
            "5.",
            " 4.4 ",
            "0",
            "0.0",
            "-1.2",
            "+1.2",
            "nan",
            "inf",
            "-inf",
            "1e3",
            "1E-2",
            "5_1",
            "0x1A",
            "\u0665.\u0661",
            "",
            " ",
            "abc",
            '"3.2"',
            "'3.2'",
            "3,2",
            "9" * 400,
            "1" * 20,
            "\t2.0\t",
            "2.0\x00",
            "\ufeff2.0",
            "2.0\u2028",
            "½",
        ]
    ),
    st.text(max_size=8),
)
_SPECIES_TEXTS = st.one_of(
    st.sampled_from(
        [
            *SPECIES,
            "setosa",
            "SETOSA",
            "Iris-setosa",
            "",
            " Virginica ",
            "Versicolor\t",
            "Virginica,",
            '"Setosa"',
            "Setosa\r",
            "Setosa\x00",
        ]
    ),
    st.text(max_size=8),
)


@st.composite
def _edited_line(draw, line):
    fields = line.split(",")
    kind = draw(st.sampled_from(["number", "species", "add field", "drop field", "garbage", "blank"]))
    index = draw(st.integers(0, 4)) % len(fields)  # a line edited before may have fewer fields
    if kind == "number":
        fields[min(index, len(fields) - 1)] = draw(_NUMBER_TEXTS)
    elif kind == "species":
        fields[-1] = draw(_SPECIES_TEXTS)
    elif kind == "add field":
        fields.insert(index, draw(_NUMBER_TEXTS))
    elif kind == "drop field":
        del fields[index]
    elif kind == "garbage":
        return draw(st.text(max_size=30))
    else:
        return draw(st.sampled_from(["", " ", "\t", ",,,,"]))
    return ",".join(fields)


@st.composite
def _corrupt_lines(draw):
    lines = list(ORIGINAL_LINES)
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["edit", "edit", "edit", "duplicate", "delete", "swap", "insert blank"]))
        if kind == "edit":
            lines[where] = draw(_edited_line(lines[where]))
        elif kind == "duplicate":
            lines.insert(draw(st.integers(1, len(lines))), lines[where])
        elif kind == "delete":
            del lines[where]
        elif kind == "swap":
            other = draw(st.integers(1, len(lines) - 1))
            lines[where], lines[other] = lines[other], lines[where]
        else:
            lines.insert(where, "")
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = ending.join(lines) + draw(st.sampled_from([ending, "", ending * 2]))
    bom = draw(st.sampled_from(["", "", "\ufeff"]))
    return (bom + text).encode("utf-8")


@_CHEAP
@given(data=_corrupt_lines())
@example(data="\n".join([*ORIGINAL_LINES[:40], "5,3,1,.2,Virginica", *ORIGINAL_LINES[41:], ""]).encode())
def test_corrupt_lines_load_exactly_or_name_the_first_bad_line(tmp_path_factory, data):
    event(check(tmp_path_factory, data))


# ----- damage to the bytes -------------------------------------------------------------------------------
@st.composite
def _damaged_bytes(draw):
    data = bytearray(ORIGINAL)
    kind = draw(st.sampled_from(["insert", "overwrite", "truncate", "non-utf8"]))
    position = draw(st.integers(0, len(data)))
    if kind == "insert":
        data[position:position] = draw(st.binary(min_size=1, max_size=16))
    elif kind == "overwrite":
        garbage = draw(st.binary(min_size=1, max_size=16))
        data[position : position + len(garbage)] = garbage
    elif kind == "truncate":
        del data[position:]
    else:
        invalid = st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\x80"])
        data[position:position] = draw(invalid)
    return bytes(data)


@_CHEAP
@given(data=_damaged_bytes())
@example(data=ORIGINAL.replace(b"4.9,3.6,1.4,0.1", b"4.9,3.6,1.4,\xff0.1"))  # line 39
@example(data=ORIGINAL.decode().encode("utf-16"))  # not UTF-8 from its first byte
@example(data=ORIGINAL.replace(b"\n4.6,3.1", b"\n\x1c4.6,3.1"))  # found by `make fuzz`: \x1c is no blank
def test_damaged_bytes_load_exactly_or_name_the_first_bad_line(tmp_path_factory, data):
    event(check(tmp_path_factory, data))


@given(
    endings=st.lists(st.sampled_from([b"\n", b"\r\n", b"\r"]), min_size=151, max_size=151), bom=st.booleans()
)
@example(endings=[b"\r\n"] * 151, bom=False)  # Windows line endings: still the same flowers
@example(endings=[b"\n"] * 151, bom=True)  # a spreadsheet's UTF-8 byte-order mark
def test_any_line_endings_and_a_byte_order_mark_load_the_same_flowers(tmp_path_factory, endings, bom):
    lines = ORIGINAL.split(b"\n")[:-1]
    data = codecs.BOM_UTF8 * bom + b"".join(line + end for line, end in zip(lines, endings))
    assert check(tmp_path_factory, data) == "loaded"


def test_regressions_found_by_fuzzing(tmp_path):
    """Each of these loaded silently or named the wrong line before."""
    lines = list(ORIGINAL_LINES)
    path = tmp_path / "iris.csv"

    def error_of(edited):
        path.write_text("\n".join(edited) + "\n", encoding="utf-8")
        with pytest.raises(ValueError) as info:
            load_iris(path)
        return str(info.value)

    # float() reads "5_1" as 51: a typo passed as a 51 cm sepal
    typo = [*lines[:1], "5_1,3.5,1.4,0.2,Setosa", *lines[2:]]
    assert "line 2: sepal_length '5_1' is not a plain decimal" in error_of(typo)
    # a stray quote made the csv module swallow every line after it; the error named the last line
    quote = [*lines[:3], lines[3].replace(",", ',"', 1), *lines[4:]]
    assert "line 4: sepal_width" in error_of(quote)
    # a bad byte gave no line at all
    path.write_bytes(ORIGINAL.replace(b"4.9,3.6,1.4,0.1", b"4.9,3.6,1.4,\xff0.1"))
    with pytest.raises(ValueError, match=r"iris\.csv, line 39: not UTF-8 text"):
        load_iris(path)


def test_a_column_without_a_range_cannot_be_scaled(tmp_path):
    """Min-max scaling divides by max - min: one value for every flower must not give NaN inputs."""
    rows = [line.split(",") for line in ORIGINAL_LINES[1:]]
    path = tmp_path / "flat.csv"
    path.write_text(
        "\n".join([ORIGINAL_LINES[0], *(",".join([*row[:3], "1.0", row[4]]) for row in rows)]) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="every flower has the same petal_width"):
        load_iris(path)


def test_special_paths_are_os_errors(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    for path, error in [
        (tmp_path, IsADirectoryError),
        (tmp_path / "absent.csv", FileNotFoundError),
        (tmp_path / "pipe.csv", OSError),  # refused at once, not waited on
        ("/proc/self/mem", OSError),
    ]:
        with pytest.raises(error, match=re.escape(str(path))), deadline(10):
            load_iris(path)


def test_a_huge_file_is_refused_unread(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_bytes(ORIGINAL + b"\n" * 2**20)
    with pytest.raises(ValueError, match=r"huge\.csv: larger than 1,048,576 bytes"):
        load_iris(path)
