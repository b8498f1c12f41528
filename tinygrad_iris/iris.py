"""Fisher's iris data (1936), shipped with the package: 150 flowers, 50 of each species.

The file ``data/iris.csv`` is plain CSV: a header line
``sepal_length,sepal_width,petal_length,petal_width,species``, then one flower per line, the
four measurements in cm and the species as ``Setosa``, ``Versicolor`` or ``Virginica``, in
Fisher's order (50 Setosa, 50 Versicolor, 50 Virginica). What `load_iris` accepts: UTF-8 (a
leading byte-order mark is ignored), lines ending in \n, \r\n or \r, fields split at commas with
no quoting, spaces or tabs around a field, measurements as plain decimals above 0 (``5.1``,
``10``, ``.5``; not ``5_1``, ``1e3`` or ``nan``), 50 flowers of each species in any order.

Provenance: the values are those of ``sklearn/datasets/data/iris.csv`` in scikit-learn 1.9.1,
identical to R's ``datasets::iris``; both follow Fisher's paper. The UCI copy differs from the
paper in two flowers (35: petal width 0.1 for 0.2; 38: 4.9,3.1,1.5,0.1 for 4.9,3.6,1.4,0.1);
this file has Fisher's values.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .files import read_file

__all__ = ["COLUMNS", "DEFAULT_PATH", "FLOWERS_PER_SPECIES", "SPECIES", "IrisData", "load_iris"]

SPECIES = ("Setosa", "Versicolor", "Virginica")
"""The three species, in label order."""
COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width", "species")
"""The CSV's header, in order."""
FLOWERS_PER_SPECIES = 50
"""How many flowers of each species Fisher's data set has."""
DEFAULT_PATH = Path(__file__).parent / "data" / "iris.csv"
"""The data set shipped with the package."""
MAX_FILE_BYTES = 2**20
"""The shipped file is under 5 KB; anything this large is not the data set."""
_SEPAL_WIDTH, _PETAL_WIDTH = 1, 3
_BLANKS = " \t"  # allowed around a field; str.strip() would also eat separators like \x1c and \u2028
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


@dataclass(frozen=True)
class IrisData:
    """The 150 flowers; every array is read-only.

    ``measurements`` (150, 4) in cm, columns as `COLUMNS`; ``labels`` (150,) with 0 Setosa,
    1 Versicolor, 2 Virginica; ``X`` (150, 2) the network's inputs (petal width, sepal width),
    each min-max scaled to [0, 1] over the 150 flowers: x = (cm - min) / (max - min).
    """

    measurements: np.ndarray
    """(150, 4) in cm, columns as `COLUMNS` (without the species)."""
    labels: np.ndarray
    """(150,) species labels: 0 Setosa, 1 Versicolor, 2 Virginica."""
    species: tuple[str, ...]
    """The species' names, indexed by label."""
    X: np.ndarray
    """The network's inputs (150, 2): petal and sepal width, each min-max scaled to [0, 1]."""


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _min_max(column: np.ndarray) -> np.ndarray:
    return (column - column.min()) / (column.max() - column.min())


def _parse_row(fields: list[str], where: str) -> tuple[list[float], int]:
    if len(fields) != len(COLUMNS):
        raise ValueError(f"{where}: expected {len(COLUMNS)} comma-separated fields, got {len(fields)}")
    numbers = []
    for column, text in zip(COLUMNS[:-1], fields[:-1]):
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{where}: {column} {text!r} is not a number") from None
        if not math.isfinite(number) or number <= 0:
            raise ValueError(f"{where}: {column} {text!r} is not a positive length in cm")
        # float() also reads "5_1" as 51 and other scripts' digits: a typo must not pass as data.
        if not _DECIMAL.fullmatch(text.strip(_BLANKS)):
            raise ValueError(f"{where}: {column} {text!r} is not a plain decimal number like 5.1")
        numbers.append(number)
    name = fields[-1].strip(_BLANKS)
    if name not in SPECIES:
        raise ValueError(f"{where}: unknown species {name!r} (expected one of {', '.join(SPECIES)})")
    return numbers, SPECIES.index(name)


def _decode(data: bytes, source: Path) -> str:
    """The text of a UTF-8 file (a leading byte-order mark, as spreadsheets write, is dropped)."""
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start].decode("utf-8")
        line = len(io.StringIO(before + "x", newline="").readlines())  # lines end as the reader's do
        raise ValueError(f"{source}, line {line}: not UTF-8 text ({err.reason})") from None


def load_iris(path: str | Path | None = None) -> IrisData:
    """Read the flowers from ``path`` (default: the copy shipped in the package).

    Raises ValueError naming the file and line for anything that is not exactly 150 flowers,
    50 per species, in the format described in this module's docstring; OSError if the file
    cannot be read (or is a folder, pipe or device).
    """
    source = Path(path) if path is not None else DEFAULT_PATH
    try:
        data = read_file(source, MAX_FILE_BYTES)
    except ValueError as err:
        raise ValueError(f"{source}: {err}; expected {len(SPECIES) * FLOWERS_PER_SPECIES} flowers") from None
    measurements: list[list[float]] = []
    labels: list[int] = []
    # No quoting: a stray quote must fail on its own line, not swallow the lines after it.
    reader = csv.reader(io.StringIO(_decode(data, source), newline=""), quoting=csv.QUOTE_NONE)
    try:
        header = next(reader, None)
        if header is None or tuple(field.strip(_BLANKS) for field in header) != COLUMNS:
            raise ValueError(f"{source}, line 1: expected the header {','.join(COLUMNS)}")
        for fields in reader:
            where = f"{source}, line {reader.line_num}"
            numbers, label = _parse_row(fields, where)
            if labels.count(label) == FLOWERS_PER_SPECIES:
                raise ValueError(f"{where}: more than {FLOWERS_PER_SPECIES} flowers of {SPECIES[label]}")
            measurements.append(numbers)
            labels.append(label)
    except csv.Error as err:
        raise ValueError(f"{source}, line {reader.line_num}: malformed CSV ({err})") from None
    if len(labels) != FLOWERS_PER_SPECIES * len(SPECIES):
        found = ", ".join(f"{labels.count(i)} {name}" for i, name in enumerate(SPECIES))
        raise ValueError(
            f"{source}, line {reader.line_num}: the file ends after {len(labels)} flowers ({found}); "
            f"expected {FLOWERS_PER_SPECIES} of each species"
        )
    table = np.array(measurements, dtype=np.float64)
    for column in (_PETAL_WIDTH, _SEPAL_WIDTH):
        if np.ptp(table[:, column]) == 0:
            raise ValueError(f"{source}: every flower has the same {COLUMNS[column]}; scaling needs a range")
    inputs = np.stack([_min_max(table[:, _PETAL_WIDTH]), _min_max(table[:, _SEPAL_WIDTH])], axis=1)
    return IrisData(
        measurements=_read_only(table),
        labels=_read_only(np.array(labels, dtype=np.int64)),
        species=SPECIES,
        X=_read_only(inputs),
    )
