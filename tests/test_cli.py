"""The tinygrad-iris command: every command in-process and as `python -m tinygrad_iris`, every error path."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from article_reference import ROWS, hand_gradient, hand_probabilities, hand_total

from tinygrad_iris import cli
from tinygrad_iris.files import write_atomically
from tinygrad_iris.network import IrisNetwork

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    """main(argv) in-process: (exit status, stdout, stderr)."""
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, out, err, expected_status, *words):
    assert status == expected_status
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    for word in words:
        assert word in err


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000


# ----- the commands ------------------------------------------------------------------------------
def test_table_prints_the_articles_table(capsys):
    status, out, err = run(capsys, "table")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[2].split() == ["0.04", "0.42", "Setosa", "0.15", "1.89"]
    assert lines[3].split() == ["1.00", "0.54", "Virginica", "0.71", "0.35"]
    assert lines[4].split() == ["0.50", "0.37", "Versicolor", "0.65", "0.43"]
    assert lines[5] == "total cross entropy: 2.67 (2.66594)"


@pytest.mark.parametrize("b3", [-2.0, 0.0, 3.5])
def test_table_json(capsys, b3):
    status, out, _ = run(capsys, "table", "--b3", str(b3), "--json")
    document = json.loads(out)
    assert status == 0 and document["b3"] == b3
    assert [(r["petal"], r["sepal"], r["species"]) for r in document["rows"]] == [
        (0.04, 0.42, "Setosa"),
        (1.0, 0.54, "Virginica"),
        (0.5, 0.37, "Versicolor"),
    ]
    for row, (petal, sepal, species) in zip(document["rows"], ROWS):
        assert row["p"] == pytest.approx(hand_probabilities(petal, sepal, b3)[species], rel=1e-12)
        assert set(row) == {"petal", "sepal", "species", "p", "cross_entropy"}
    assert document["total_cross_entropy"] == pytest.approx(hand_total(b3), rel=1e-12)


def test_optimize_b3_lines_and_json(capsys):
    status, out, _ = run(capsys, "optimize-b3")
    assert status == 0
    assert "   0  -2.000000   2.665939     -0.7732    0.20114" in out
    assert "   1  -1.226799" in out and "   2  -0.662258" in out
    assert out.splitlines()[-1] == "b3 after 10 steps: -0.032300"

    status, out, _ = run(capsys, "optimize-b3", "--start", "-2", "--lr", "1", "--steps", "30", "--json")
    document = json.loads(out)
    b3 = -2.0
    for k, step in enumerate(document["steps"]):
        assert set(step) == {"step", "b3", "total_cross_entropy", "gradient", "curvature"}
        assert step["step"] == k
        assert step["b3"] == pytest.approx(b3, abs=1e-12)  # the value before the step's update
        assert step["gradient"] == pytest.approx(hand_gradient(b3), abs=1e-12)
        b3 -= hand_gradient(b3)
    assert len(document["steps"]) == 30 and document["method"] == "gradient"
    assert document["b3"] == pytest.approx(b3, abs=1e-12)
    assert round(document["b3"], 4) == -0.0317  # FACTS


def test_curve_writes_a_png(capsys, tmp_path):
    path = tmp_path / "pink.png"
    status, out, err = run(capsys, "curve", "-o", str(path))
    assert status == 0 and err == ""
    assert_png(path)
    assert f"wrote {path}" in out and "b3 = -0.03165" in out and "1.7747" in out
    assert os.listdir(tmp_path) == ["pink.png"]  # no temporary file left behind


def test_train_defaults_reach_95_percent(capsys):
    status, out, err = run(capsys, "train", "--json")
    document = json.loads(out)
    assert status == 0 and err == ""
    assert document["samples"] == 150 and document["epochs"] == 1000
    assert document["accuracy"] >= 0.95
    assert document["loss"] < 0.1  # FACTS: about 0.09
    assert document["dead_units"] == []


def test_train_prints_progress_lines_when_not_a_terminal(capsys):
    status, out, _ = run(capsys, "train", "--epochs", "40", "--optimizer", "sgd", "--lr", "0.1")
    lines = out.splitlines()
    assert status == 0
    assert [line.split()[1] for line in lines[:10]] == [f"{k}/40" for k in range(4, 41, 4)]
    assert lines[10] == "trained 40 epochs (sgd, lr 0.1) on 150 flowers"
    assert lines[11].startswith("mean cross entropy ")


def test_progress_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stderr, stdout = Terminal(), io.StringIO()
    progress = cli._Progress(3, quiet=False, stderr=stderr, stdout=stdout)
    for epoch in range(3):
        progress(epoch, 0.5, 0.9)
    progress.close()
    assert stdout.getvalue() == ""
    text = stderr.getvalue()
    assert text.startswith("\r") and text.endswith("epoch 3/3  loss 0.5000  accuracy 90.0%\n")
    assert "[########################]" in text


def test_save_then_load_round_trips(capsys, tmp_path):
    params = tmp_path / "params.npz"
    status, out, _ = run(
        capsys, "train", "--init", "random", "--seed", "3", "--epochs", "200", "--save", str(params), "--json"
    )
    trained = json.loads(out)
    assert status == 0 and params.stat().st_size > 0
    with np.load(params, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(name for name, _ in IrisNetwork().named_parameters())
    status, out, _ = run(capsys, "train", "--load", str(params), "--epochs", "0", "--json")
    reloaded = json.loads(out)
    assert status == 0
    assert reloaded["loss"] == pytest.approx(trained["loss"], rel=1e-12)
    assert reloaded["accuracy"] == trained["accuracy"]


def test_demo_writes_everything_into_its_folder(capsys, tmp_path):
    out_dir = tmp_path / "new" / "out"
    status, out, err = run(capsys, "demo", "--out", str(out_dir))
    assert status == 0 and err == ""
    assert "total cross entropy: 2.67" in out and "-1.226799" in out and "minimum: b3 = -0.03165" in out
    assert "Newton's method on b3 from -2" in out and "   1   1.844161" in out
    assert "classifies 143 of 150" in out
    figures = ["curve.png", "training.png", "hidden_surfaces.png", "raw_outputs.png", "decision_regions.png"]
    assert sorted(os.listdir(out_dir)) == sorted([*figures, "graph.svg", "backprop.html", "params.npz"])
    for name in figures:
        assert_png(out_dir / name)
        assert str(out_dir / name) in out
    assert b"<svg" in (out_dir / "graph.svg").read_bytes() and str(out_dir / "graph.svg") in out
    assert f"wrote 8 files to {out_dir}/" in out
    page = out_dir / "backprop.html"
    assert page.read_text().startswith("<!DOCTYPE html>") and str(page) in out
    assert f"open {page} in a browser to watch backward() step by step" in out


@pytest.mark.parametrize("command", ["table", "optimize-b3", "curve", "backprop", "train", "demo"])
def test_every_command_has_help(capsys, command):
    status, out, err = run(capsys, command, "--help")
    assert status == 0 and out.startswith(f"usage: tinygrad-iris {command}") and err == ""


def test_python_dash_m_runs_the_same_cli(tmp_path):
    def python_m(*argv):
        return subprocess.run(
            [sys.executable, "-m", "tinygrad_iris", *argv],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )

    done = python_m("table", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["total_cross_entropy"] == pytest.approx(
        hand_total(-2.0)
    )
    done = python_m("optimize-b3", "--steps", "3", "--json")
    assert [round(s["b3"], 4) for s in json.loads(done.stdout)["steps"]] == [-2.0, -1.2268, -0.6623]
    done = python_m("train", "--epochs", "300", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["accuracy"] >= 0.95
    done = python_m("curve")
    assert done.returncode == 0
    assert_png(tmp_path / "curve.png")
    done = python_m("demo")
    assert done.returncode == 0 and (tmp_path / "out" / "decision_regions.png").exists()
    done = python_m("train", "--epochs", "-3")
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


# ----- error paths ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ([], "required: command"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["table", "--b3", "nan"], "--b3: 'nan' is not a finite number"),
        (["table", "--b3", "inf"], "not a finite number"),
        (["table", "--b3", "abc"], "'abc' is not a number"),
        (["table", "--b3", "1e9"], "outside [-100, 100]"),
        (["table", "--unknown"], "unrecognized arguments: --unknown"),
        (["optimize-b3", "--steps", "-1"], "--steps: -1 must be between 0 and 1,000,000"),
        (["optimize-b3", "--steps", "1000001"], "between 0 and 1,000,000"),
        (["optimize-b3", "--steps", "2.5"], "not a whole number"),
        (["optimize-b3", "--lr", "0"], "--lr: 0 must be greater than 0"),
        (["optimize-b3", "--lr", "-1"], "greater than 0"),
        (["optimize-b3", "--lr", "1e300"], "at most 100"),
        (["optimize-b3", "--start=-inf"], "not a finite number"),
        (["optimize-b3", "--method", "adam"], "--method: invalid choice: 'adam'"),
        (["train", "--epochs", "-5"], "--epochs: -5 must be between"),
        (["train", "--epochs", "10000000"], "between 0 and 1,000,000"),
        (["train", "--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["train", "--init", "zeros"], "invalid choice: 'zeros'"),
        (["train", "--seed", "-1"], "--seed: -1 must be between"),
        (["train", "--lr", "nan"], "not a finite number"),
        (["curve", "-o", "curve.gif"], "must end in .png, .svg or .pdf"),
    ],
)
def test_usage_errors_exit_2_with_one_line(capsys, argv, words):
    assert_one_line_error(*run(capsys, *argv), 2, "error:", words)


def test_runtime_errors_exit_1_with_one_line(capsys, tmp_path):
    missing_dir = tmp_path / "no" / "such"
    (tmp_path / "file.txt").write_text("a file, not a folder")
    (tmp_path / "folder.png").mkdir()
    cases = [
        (["curve", "-o", str(missing_dir / "c.png")], "cannot write", "no directory"),
        (["curve", "-o", str(tmp_path / "folder.png")], "it is a directory"),
        (["train", "--save", str(missing_dir / "p.npz")], "cannot write"),
        (["train", "--load", str(tmp_path / "absent.npz")], "cannot load", "No such file"),
        (["demo", "--out", str(tmp_path / "file.txt")], "not a directory"),
        (["demo", "--out", str(tmp_path / "file.txt" / "sub")], "cannot create the folder"),
    ]
    for argv, *words in cases:
        assert_one_line_error(*run(capsys, *argv), 1, "tinygrad-iris: error:", *words)
    assert sorted(os.listdir(tmp_path)) == ["file.txt", "folder.png"]


def _bad_params(tmp_path):
    """(file name, what the error says) for broken parameter files, written into tmp_path."""
    state = IrisNetwork().state_dict()
    np.savez(tmp_path / "nan.npz", **{**state, "b3": np.array(np.nan)})
    np.savez(tmp_path / "shape.npz", **{**state, "b3": np.zeros(2)})
    np.savez(tmp_path / "ints.npz", **{**state, "b1": np.array(1)})
    np.savez(tmp_path / "renamed.npz", **{**{k: v for k, v in state.items() if k != "b5"}, "b6": state["b5"]})
    np.savez(tmp_path / "pickled.npz", **{**state, "b3": np.array([1, None], dtype=object)})
    np.save(tmp_path / "one.npy", np.zeros(15))
    (tmp_path / "text.npz").write_text("not numpy")
    good = tmp_path / "good.npz"
    np.savez(good, **state)
    (tmp_path / "truncated.npz").write_bytes(good.read_bytes()[:300])
    return [
        ("nan.npz", "b3 holds NaN"),
        ("shape.npz", "b3 has shape (2,), expected ()"),
        ("ints.npz", "b1 has dtype int64"),
        ("renamed.npz", "missing b5; unexpected b6"),
        ("pickled.npz", "Object arrays cannot be loaded"),
        ("one.npy", "found one array"),
        ("text.npz", "not a NumPy .npz archive"),
        ("truncated.npz", "not a NumPy .npz archive"),
    ]


def test_bad_load_files_are_one_line_errors(capsys, tmp_path):
    for name, words in _bad_params(tmp_path):
        assert_one_line_error(*run(capsys, "train", "--load", str(tmp_path / name)), 1, "cannot load", words)


def test_bad_load_files_leave_the_model_unchanged(tmp_path):
    net = IrisNetwork.random(7)
    before = [p.data for p in net.parameters()]
    for name, words in _bad_params(tmp_path):
        with pytest.raises(ValueError, match="cannot load") as info:
            net.load(tmp_path / name)
        assert words in str(info.value)
        assert [p.data for p in net.parameters()] == before, name


def test_interrupt_exits_130_quietly_and_writes_nothing(capsys, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "train", interrupted)
    params = tmp_path / "params.npz"
    status, _, err = run(capsys, "train", "--save", str(params))
    assert (status, err) == (130, "")
    assert not params.exists()


def test_an_unexpected_bug_is_still_one_line(capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(cli, "article_table", broken)
    assert_one_line_error(*run(capsys, "table"), 1, "internal error: ZeroDivisionError: boom")


# ----- atomic writes --------------------------------------------------------------------------------
def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "params.npz"
    target.write_bytes(b"the user's good file")

    def half_then_fail(file):
        file.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match=f"cannot write {target}: disk full"):
        write_atomically(target, half_then_fail)
    assert target.read_bytes() == b"the user's good file"
    assert os.listdir(tmp_path) == ["params.npz"]

    def half_then_interrupt(file):
        file.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, half_then_interrupt)
    assert target.read_bytes() == b"the user's good file" and os.listdir(tmp_path) == ["params.npz"]


def test_a_failed_figure_leaves_no_partial_png(capsys, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = tmp_path / "curve.png"
    target.write_bytes(b"old")

    def failing_savefig(self, file, **kwargs):
        file.write(PNG_MAGIC)
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(Figure, "savefig", failing_savefig)
    assert_one_line_error(*run(capsys, "curve", "-o", str(target)), 1, "renderer crashed")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["curve.png"]


def test_written_files_get_an_ordinary_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_atomically(tmp_path / "x.bin", lambda file: file.write(b"x"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_the_package_and_cli_import_without_matplotlib():
    code = (
        "import sys, tinygrad_iris, tinygrad_iris.cli, tinygrad_iris.network; "
        "print('matplotlib' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False"


def test_negative_numbers_with_exponents_are_values_not_options(capsys):
    from tinygrad_iris.cli import main

    assert main(["table", "--b3", "-1e1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["b3"] == -10.0
    assert main(["table", "--b3", "-inf"]) == 2
    assert "not a finite number" in capsys.readouterr().err
    assert main(["optimize-b3", "--start", "-2.5e0", "--steps", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"][0]["b3"] == -2.5


# ----- the command registry -------------------------------------------------------------------------
def test_a_new_command_is_one_block(capsys, monkeypatch):
    from tinygrad_iris.arguments import count_text

    monkeypatch.setattr(cli, "COMMANDS", dict(cli.COMMANDS))

    @cli.command("hello", "greet a few times")
    class Hello(cli.Command):
        def add_arguments(self, parser):
            parser.add_argument("--times", type=count_text, default=1, help="how often (default: 1)")

        def run(self, args):
            print(" ".join(["hello"] * args.times))

    assert run(capsys, "hello", "--times", "3") == (0, "hello hello hello\n", "")
    status, out, _ = run(capsys, "--help")
    assert status == 0 and out.splitlines()[-4].split() == ["hello", "greet", "a", "few", "times"]
    assert_one_line_error(*run(capsys, "hello", "--times", "-1"), 2, "--times: -1 must be between 0 and")
    with pytest.raises(ValueError, match="command 'table' is registered twice"):
        cli.command("table", "again")(Hello)
