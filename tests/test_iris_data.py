"""Fisher's iris data: the shipped values against published figures, and corrupt files named by line."""

import numpy as np
import pytest

from tinygrad_iris.iris import COLUMNS, DEFAULT_PATH, SPECIES, load_iris
from tinygrad_iris.network import ARTICLE_ROWS


def test_fifty_flowers_of_each_species_in_fishers_order():
    data = load_iris()
    assert data.measurements.shape == (150, 4) and data.measurements.dtype == np.float64
    assert data.labels.shape == (150,) and data.labels.dtype.kind == "i"
    assert data.species == ("Setosa", "Versicolor", "Virginica")
    np.testing.assert_array_equal(data.labels, np.repeat([0, 1, 2], 50))


def test_values_match_fishers_published_summaries():
    data = load_iris()
    # column totals and per-species means of Fisher's table (also R's datasets::iris)
    np.testing.assert_allclose(data.measurements.sum(axis=0), [876.5, 458.6, 563.7, 179.9], atol=1e-9)
    species_means = {
        0: [5.006, 3.428, 1.462, 0.246],
        1: [5.936, 2.770, 4.260, 1.326],
        2: [6.588, 2.974, 5.552, 2.026],
    }
    for label, means in species_means.items():
        np.testing.assert_allclose(data.measurements[data.labels == label].mean(axis=0), means, atol=1e-9)
    assert data.measurements.min(axis=0).tolist() == [4.3, 2.0, 1.0, 0.1]
    assert data.measurements.max(axis=0).tolist() == [7.9, 4.4, 6.9, 2.5]


def test_fishers_values_not_the_uci_errata():
    m = load_iris().measurements
    assert m[34].tolist() == [4.9, 3.1, 1.5, 0.2]  # UCI has petal width 0.1
    assert m[37].tolist() == [4.9, 3.6, 1.4, 0.1]  # UCI has 4.9, 3.1, 1.5, 0.1


def test_network_inputs_are_petal_and_sepal_width_min_max_scaled():
    data = load_iris()
    petal_cm, sepal_cm = data.measurements[:, 3], data.measurements[:, 1]
    # FACTS: petal width 0.1..2.5 cm, sepal width 2.0..4.4 cm
    np.testing.assert_allclose(data.X[:, 0], (petal_cm - 0.1) / 2.4, atol=1e-15)
    np.testing.assert_allclose(data.X[:, 1], (sepal_cm - 2.0) / 2.4, atol=1e-15)
    assert data.X.min() == 0.0 and data.X.max() == 1.0


def test_the_articles_rows_are_real_flowers_rounded():
    data = load_iris()
    flowers = [(0.2, 3.0, 0), (2.5, 3.3, 2), (1.3, 2.9, 1)]  # petal width, sepal width in cm, species
    for (petal_cm, sepal_cm, species), (petal, sepal, article_species) in zip(flowers, ARTICLE_ROWS):
        match = (
            (data.measurements[:, 3] == petal_cm)
            & (data.measurements[:, 1] == sepal_cm)
            & (data.labels == species)
        )
        assert match.any()
        row = data.X[np.flatnonzero(match)[0]]
        assert (round(row[0], 2), round(row[1], 2), species) == (petal, sepal, article_species)


def test_arrays_are_read_only():
    data = load_iris()
    for array in (data.measurements, data.labels, data.X):
        with pytest.raises(ValueError):
            array[0] = 1


def test_the_csv_format_is_as_documented():
    lines = DEFAULT_PATH.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert len(lines) == 151
    assert {line.rsplit(",", 1)[1] for line in lines[1:]} == set(SPECIES)


# ----- corrupt files ------------------------------------------------------------------------------
def _corrupt(tmp_path, edit):
    lines = DEFAULT_PATH.read_text(encoding="utf-8").splitlines()
    lines = edit(lines)
    path = tmp_path / "iris.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _replace(line_number, text):
    def edit(lines):
        lines[line_number - 1] = text
        return lines

    return edit


@pytest.mark.parametrize(
    ("edit", "line", "words"),
    [
        (_replace(1, "a,b,c,d,e"), 1, "header"),
        (_replace(7, "5.4,3.9,1.7,0.4"), 7, "expected 5"),
        (_replace(7, "5.4,3.9,1.7,0.4,Setosa,extra"), 7, "expected 5"),
        (_replace(12, "5.4,three,1.5,0.2,Setosa"), 12, "sepal_width 'three' is not a number"),
        (_replace(12, "5.4,nan,1.5,0.2,Setosa"), 12, "not a positive length"),
        (_replace(12, "5.4,3.7,inf,0.2,Setosa"), 12, "not a positive length"),
        (_replace(40, "-5.1,3.4,1.5,0.2,Setosa"), 40, "not a positive length"),
        (_replace(40, "5.1,3.4,1.5,0,Setosa"), 40, "not a positive length"),
        (_replace(90, "5.5,2.5,4.0,1.3,Iris-versicolor"), 90, "unknown species"),
        (_replace(90, ""), 90, "expected 5"),
        (_replace(60, "5.0,3.0,1.6,0.2,Setosa"), 60, "more than 50 flowers of Setosa"),
        (lambda lines: lines[:-1], 150, "ends after 149 flowers"),
        (lambda lines: [*lines, lines[-1]], 152, "more than 50 flowers of Virginica"),
        (lambda lines: lines[:1], 1, "ends after 0 flowers"),
    ],
)
def test_a_corrupt_file_names_the_file_and_line(tmp_path, edit, line, words):
    path = _corrupt(tmp_path, edit)
    with pytest.raises(ValueError) as info:
        load_iris(path)
    message = str(info.value)
    assert f"{path}, line {line}:" in message
    assert words in message


def test_an_empty_or_binary_file_is_a_value_error(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="line 1: expected the header"):
        load_iris(empty)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="line 1: not UTF-8 text"):
        load_iris(binary)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_iris(tmp_path / "nope.csv")
