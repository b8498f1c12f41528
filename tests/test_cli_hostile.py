"""The tinygrad-iris command under hostile input: random argument lists, in-process and as real processes.

Every run must exit 0, 1 or 2 (130 only for Ctrl-C); an error is exactly one line on stderr, never a
traceback, never an "internal error"; a success prints nothing on stderr; nothing outside the output
paths named on the command line changes; no temporary or half-written file is left behind.
"""

import codecs
import io
import os
import re
import select
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from hostile import deadline
from hypothesis import event, example, given
from hypothesis import strategies as st

from tinygrad_iris import cli
from tinygrad_iris.network import IrisNetwork

EPOCHS_IN_FUZZ = 20  # training length is not under test here; test_cli runs the real default
MAGIC = {
    "png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF", "dot": b"digraph",
    "html": b"<!DOCTYPE html>",
}  # fmt: skip
OUTPUT_FLAGS = ("--output", "--out", "--save")
DEFAULT_OUTPUT = {"curve": "curve.png", "graph": "graph.svg", "backprop": "backprop.html", "demo": "out"}
TEMPORARY = re.compile(r"^\..*\.tmp$")


# ----- the sandbox: a fresh folder of things a user might have -----------------------------------------
def make_sandbox(folder):
    (folder / "file.txt").write_text("a file, not a folder\n")
    (folder / "adir").mkdir()
    (folder / "adir" / "inside.txt").write_text("keep me\n")
    IrisNetwork.random(4).save(folder / "existing.npz")
    (folder / "existing.png").write_bytes(b"the user's old picture")
    (folder / "bad.npz").write_bytes(b"PK\x03\x04 not really")
    IrisNetwork(b1=1e308, w_upper_setosa=1e308).save(folder / "overflows.npz")  # finite, but not for long
    IrisNetwork(b1=1e200, w_petal_upper=1e200).save(folder / "huge.npz")
    os.mkfifo(folder / "fifo.npz")
    os.mkfifo(folder / "fifo.png")


def snapshot(folder):
    """relative path -> what is there (a folder, a pipe, or a file's bytes)."""
    found = {}
    for root, folders, names in os.walk(folder):
        for name in folders + names:
            path = Path(root) / name
            mode = path.lstat().st_mode
            kind = "dir" if path.is_dir() else "fifo" if not path.is_file() else path.read_bytes()
            found[str(path.relative_to(folder))] = (mode, kind)
    return found


def output_paths(argv):
    """The values given to an output option, in every spelling argparse accepts, or the default."""
    found = []
    for i, token in enumerate(argv):
        flag, equals, value = token.partition("=")
        is_output = flag == "-o" or (
            flag.startswith("--") and len(flag) > 2 and any(name.startswith(flag) for name in OUTPUT_FLAGS)
        )
        if is_output and equals:
            found.append(value)
        elif is_output and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif token.startswith("-o") and len(token) > 2 and not token.startswith("--"):
            found.append(token[2:])
    if not found and argv and argv[0] in DEFAULT_OUTPUT:
        found.append(DEFAULT_OUTPUT[argv[0]])
    return [os.path.normpath(value or ".") for value in found]


def inside(relative, outputs):
    return any(relative == out or out == "." or relative.startswith(out + os.sep) for out in outputs)


def ancestor_of(relative, outputs):
    return any(out.startswith(relative + os.sep) for out in outputs)


def run_in(folder, argv):
    """main(argv) with cwd ``folder`` and UTF-8 streams as strict as a real UTF-8 terminal's."""
    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out_bytes, encoding="utf-8", errors="strict", write_through=True)
    stderr = io.TextIOWrapper(err_bytes, encoding="utf-8", errors="strict", write_through=True)
    saved = os.getcwd(), sys.stdout, sys.stderr, cli.DEFAULT_EPOCHS
    os.chdir(folder)
    sys.stdout, sys.stderr, cli.DEFAULT_EPOCHS = stdout, stderr, EPOCHS_IN_FUZZ
    try:
        with warnings.catch_warnings(record=True) as caught, deadline(120):
            warnings.simplefilter("always")
            status = cli.main(argv)
    finally:
        os.chdir(saved[0])
        sys.stdout, sys.stderr, cli.DEFAULT_EPOCHS = saved[1:]
    # a warning would be one more line on a real stderr
    assert [str(w.message) for w in caught] == []
    return status, out_bytes.getvalue().decode("utf-8", "replace"), err_bytes.getvalue().decode("utf-8")


def assert_survives(folder, argv):
    """Run argv in the sandbox ``folder`` and hold it to the contract; return the exit status."""
    before = snapshot(folder)
    status, out, err = run_in(folder, argv)
    after = snapshot(folder)
    assert status in (0, 1, 2), (argv, status, err)
    if status == 0:  # only the demo may warn, in one line, that Graphviz is missing
        warned = err.startswith("tinygrad-iris: warning: ") and err.count("\n") == 1 and "demo" in argv
        assert err == "" or warned, (argv, err)
    else:
        assert err.count("\n") == 1 and err.endswith("\n"), (argv, err)
        assert "error:" in err and "internal error" not in err and "Traceback" not in err, (argv, err)
    if status == 2:
        assert out == "", (argv, out)

    outputs = output_paths(argv)
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    for path in changed:
        assert not TEMPORARY.match(os.path.basename(path)), (argv, path)
        assert path in after, (argv, f"{path} was deleted")
        assert before.get(path, (0, b""))[1] not in ("dir", "fifo"), (argv, f"{path} was replaced")
        new_folder = path not in before and after[path][1] == "dir"
        assert inside(path, outputs) or (new_folder and ancestor_of(path, outputs)), (argv, path, outputs)
        if after[path][1] not in ("dir", "fifo"):
            assert_complete(folder / path)
    command = next((token for token in argv if not token.startswith("-")), None)
    if status != 0 and command != "demo":  # the demo writes figure by figure, each one whole
        assert changed == set(), (argv, changed)
    return status


def assert_complete(path):
    """A written file is a whole picture or a whole parameter archive, never a torso."""
    data = path.read_bytes()
    if data.startswith(b"PK"):
        IrisNetwork().load(path)
        return
    assert any(data.startswith(magic) for magic in MAGIC.values()), (path, data[:16])
    if data.startswith(MAGIC["png"]):
        assert data.endswith(b"IEND\xaeB`\x82"), path
    elif data.startswith(MAGIC["pdf"]):
        assert data.rstrip().endswith(b"%%EOF"), path
    elif data.startswith(MAGIC["dot"]):
        assert data.rstrip().endswith(b"}"), path
    elif data.startswith(MAGIC["html"]):
        assert data.rstrip().endswith(b"</html>"), path
    else:
        assert data.rstrip().endswith(b"</svg>"), path


# ----- hostile argument lists ---------------------------------------------------------------------------
_COUNTS = st.one_of(
    st.integers(0, 30).map(str),
    st.sampled_from(
        [
            "-1", "-0", "1000001", str(10**9), str(10**12), "10**12", "1e3", "2.5", "nan", "inf", "-inf",
            "", " ", "abc", " 7 ", "0x10", "9" * 5000, "9" * 4000, "\u0663", "9223372036854775807",
            "9223372036854775808", "+3", "3_0",
        ]
    ),
)  # fmt: skip
_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(
        ["nan", "NaN", "-nan", "inf", "-Infinity", "1e309", "-1e309", "1e-320", "0", "-0", "100",
         "100.0000001", "-100", "1_0", "0x1p3", "", "abc", "1,5", "\u0661.5", " 2 "]
    ),
)  # fmt: skip
_IMAGE_PATHS = st.sampled_from(
    ["out.png", "out.svg", "out.pdf", "OUT.PNG", "existing.png", "adir", "adir/", "adir/x.png",
     "file.txt/x.png", "no/such/x.png", "/proc/x.png", "/proc/self/x.png", "fifo.png", "x.gif", "",
     ".png", "\udcff.png", "a b.png", "p" * 251 + ".png", "p" * 300 + ".png", "-x.png", "-", "out.dot",
     "out.gv", "adir/g.svg", "out.html", "adir/x.html", "no/such/x.html"]
)  # fmt: skip
_SAVE_PATHS = st.sampled_from(
    ["out.npz", "existing.npz", "adir", "adir/", "file.txt/x.npz", "no/such/x.npz", "/proc/x.npz",
     "fifo.npz", "", ".", "\udcfe.npz", "x.png", "p" * 300]
)  # fmt: skip
_LOAD_PATHS = st.sampled_from(
    ["existing.npz", "overflows.npz", "huge.npz", "bad.npz", "adir", "fifo.npz", "absent.npz",
     "file.txt/x.npz", "/proc/self/mem", "file.txt", "", "existing.png", "\udcfd.npz"]
)  # fmt: skip
_DIRS = st.sampled_from(
    ["outdir", "adir", "file.txt", "file.txt/sub", "no/such/deep", "/proc/outdir", "existing.npz",
     "fifo.npz", "\udcfc"]
)  # fmt: skip
_WORDS = st.text(st.characters(exclude_characters="\0", exclude_categories=["Nd"]), max_size=12)
_VALUES = {
    "--b3": _NUMBERS,
    "--start": _NUMBERS,
    "--lr": _NUMBERS,
    "--steps": _COUNTS,
    "--epochs": _COUNTS,
    "--seed": _COUNTS,
    "--optimizer": st.sampled_from(["adam", "sgd", "rmsprop", "", "ADAM"]),
    "--init": st.sampled_from(["article", "random", "zeros", ""]),
    "--method": st.sampled_from(["gradient", "newton", "adam", "", "NEWTON"]),
    "--format": st.sampled_from(["svg", "png", "pdf", "dot", "gif", "", "SVG"]),
    "-o": _IMAGE_PATHS,
    "--output": _IMAGE_PATHS,
    "--save": _SAVE_PATHS,
    "--load": _LOAD_PATHS,
    "--out": _DIRS,
}
_FLAGS = {
    "table": ["--b3", "--json"],
    "optimize-b3": ["--start", "--method", "--lr", "--steps", "--json"],
    "curve": ["-o", "--output"],
    "graph": ["--b3", "-o", "--output", "--format"],
    "backprop": ["--b3", "-o", "--output"],
    "train": ["--epochs", "--optimizer", "--lr", "--init", "--seed", "--save", "--load", "--json"],
    "demo": ["--out"],
}


_GOOD_VALUES = {
    "--b3": st.floats(-100, 100).map(repr),
    "--start": st.floats(-100, 100).map(repr),
    "--lr": st.floats(1e-6, 100).map(repr),
    "--steps": st.integers(0, 30).map(str),
    "--epochs": st.integers(0, 30).map(str),
    "--seed": st.integers(0, 2**63 - 1).map(str),
    "--optimizer": st.sampled_from(["adam", "sgd"]),
    "--init": st.sampled_from(["article", "random"]),
    "--method": st.sampled_from(["gradient", "newton"]),
    "--format": st.sampled_from(["svg", "png", "pdf", "dot"]),
}


@st.composite
def _option(draw, command, hostile):
    """One option: a known flag with a good value, or (if hostile) a bad or missing value or junk."""
    flags = _FLAGS.get(command) or ["--json"]
    kind = draw(st.sampled_from(["known", "equals", "foreign", "unknown", "stray"])) if hostile else "known"
    if kind == "unknown":
        return [draw(st.sampled_from(["--bogus", "-x", "--", "-", "--epochs=", "--sav", "--ou", "--j"]))]
    if kind == "stray":
        return [draw(_WORDS)]
    pool = [flag for flags_of in _FLAGS.values() for flag in flags_of] if kind == "foreign" else flags
    flag = draw(st.sampled_from(pool))
    if flag == "--json":
        return [flag]
    if hostile:
        mismatched = draw(st.integers(0, 4)) == 0  # a value meant for another option
        values = draw(st.sampled_from(list(_VALUES.values())) if mismatched else st.just(_VALUES[flag]))
    else:  # paths are always drawn from the hostile ones: failing to write is a runtime matter
        values = _GOOD_VALUES.get(flag, _VALUES[flag])
    value = draw(values)
    return [f"{flag}={value}"] if kind == "equals" else [flag, value]


@st.composite
def hostile_argv(draw):
    """A command, a few options, some of them hostile; now and then a final value cut off."""
    command = draw(
        st.one_of(
            st.sampled_from(list(_FLAGS)),
            st.sampled_from(["", "frobnicate", "TABLE", "tabl", "-h", "--help", "--version", "help"]),
        )
    )
    argv = [command]
    options = draw(st.lists(st.booleans(), max_size=4))  # True: this option is hostile
    for hostile in options:
        argv += draw(_option(command, hostile))
    if draw(st.integers(0, 9)) == 0:
        argv = argv[:-1]  # a flag left without its value, or a command without options
    return argv


@given(argv=hostile_argv())
@example(argv=["train", "--epochs", str(10**12)])
@example(argv=["optimize-b3", "--steps", str(10**9)])
@example(argv=["train", "--epochs", "1", "--save", "fifo.npz"])  # was: the pipe replaced by a file
@example(argv=["train", "--epochs", "1", "--load", "fifo.npz"])  # was: hung forever
@example(argv=["curve", "-o", "\udcff.png"])  # was: exit 1 after writing the file (strict stdout)
@example(argv=["train", "--epochs", "1", "--save", "p" * 251 + ".npz"])  # was: temporary name too long
@example(argv=["demo", "--out", "outdir"])
def test_hostile_argument_lists(tmp_path_factory, argv):
    folder = tmp_path_factory.mktemp("cli")
    make_sandbox(folder)
    status = assert_survives(folder, argv)
    event(f"{argv[0] if argv else '(nothing)'}: exit {status}")


_NAMES = st.text(st.characters(exclude_characters="\0/", exclude_categories=["Cs"]), min_size=1, max_size=20)


@st.composite
def path_argv(draw):
    """A command that reads or writes files, sensible numbers, and hostile or odd paths."""
    commands = ["train", "curve", "train", "graph", "train", "demo", "train", "backprop"]
    command = draw(st.sampled_from(commands))
    if command == "graph":
        path = draw(st.one_of(_IMAGE_PATHS, _NAMES.map(lambda name: name + ".svg")))
        return [command, "-o", path, *draw(st.sampled_from([[], ["--format", "dot"], ["--format", "png"]]))]
    if command == "curve":
        suffix = draw(st.sampled_from([".png", ".svg", ".pdf"]))
        path = draw(st.one_of(_IMAGE_PATHS, _NAMES.map(lambda name: name + suffix)))
        flag = draw(st.sampled_from(["-o", "--output", "--outp"]))
        return [command, f"{flag}={path}"] if draw(st.booleans()) else [command, flag, path]
    if command == "demo":
        return [command, "--out", draw(st.one_of(_DIRS, _NAMES))]
    if command == "backprop":
        return [command, "-o", draw(st.one_of(_IMAGE_PATHS, _NAMES.map(lambda name: name + ".html")))]
    argv = [command, "--epochs", draw(st.integers(0, 5).map(str))]
    if draw(st.booleans()):
        argv += ["--save", draw(st.one_of(_SAVE_PATHS, _NAMES))]
    if draw(st.booleans()):
        argv += ["--load", draw(st.one_of(_LOAD_PATHS, _NAMES))]
    return argv + draw(st.sampled_from([[], ["--json"]]))


@given(argv=path_argv())
def test_hostile_paths(tmp_path_factory, argv):
    folder = tmp_path_factory.mktemp("paths")
    make_sandbox(folder)
    event(f"{argv[0]}: exit {assert_survives(folder, argv)}")


def test_every_regression_example_exits_as_expected(tmp_path):
    """The bugs found above, with the exit status each must now give."""
    make_sandbox(tmp_path)
    cases = [
        (["train", "--epochs", "1", "--save", "fifo.npz"], 1),
        (["train", "--epochs", "1", "--load", "fifo.npz"], 1),
        (["curve", "-o", "\udcff.png"], 0),
        (["train", "--epochs", "1", "--save", "p" * 251 + ".npz"], 0),
        (["train", "--epochs", str(10**12)], 2),
        (["optimize-b3", "--steps", str(10**9)], 2),
        # was: NumPy warnings on stderr, and a file of NaNs saved that --load then refused
        (["train", "--epochs", "5", "--load", "overflows.npz", "--save", "out.npz"], 1),
        (["train", "--epochs", "5", "--load", "overflows.npz", "--save", "out.npz", "--json"], 1),
        (["train", "--epochs", "5", "--load", "huge.npz", "--save", "out.npz"], 0),  # was: a warning
        (["graph", "-o", "fifo.png", "--format", "png"], 1),
        (["graph", "-o", "-", "--format", "dot"], 0),
    ]
    for argv, expected in cases:
        assert assert_survives(tmp_path, argv) == expected, argv
    assert (tmp_path / "fifo.npz").lstat().st_mode & 0o170000 == 0o010000  # still a pipe
    assert (tmp_path / "\udcff.png").read_bytes().startswith(MAGIC["png"])


def test_huge_requests_are_refused_with_the_bound(tmp_path):
    make_sandbox(tmp_path)
    for argv in (["train", "--epochs", str(10**12)], ["optimize-b3", "--steps", str(10**9)]):
        status, out, err = run_in(tmp_path, argv)
        assert status == 2 and out == ""
        assert f"{argv[-1]} must be between 0 and 1,000,000" in err


# ----- real processes -----------------------------------------------------------------------------------
def python_m(folder, *argv, **options):
    command = [sys.executable, "-m", "tinygrad_iris", *argv]
    return subprocess.run(command, capture_output=True, cwd=folder, timeout=120, **options)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([b"train", b"--epochs", str(10**12).encode()], 2),
        ([b"optimize-b3", b"--steps", str(10**9).encode()], 2),
        ([b"frobnicate"], 2),
        ([b"table", b"--b3", b"nan"], 2),
        ([b"train", b"--epochs"], 2),
        ([b"train", b"--epochs", b"1", b"--load", b"bad.npz"], 1),
        ([b"train", b"--epochs", b"1", b"--load", b"fifo.npz"], 1),
        ([b"train", b"--epochs", b"1", b"--save", b"fifo.npz"], 1),
        ([b"curve", b"-o", b"file.txt/x.png"], 1),
        ([b"graph", b"-o", b"adir", b"--format", b"svg"], 1),
        ([b"graph", b"-o", b"x.gif"], 2),
        ([b"demo", b"--out", b"file.txt/sub"], 1),
        ([b"train", b"--epochs", b"1", b"--save", b"\xff.npz"], 0),  # a file name that is not UTF-8
    ],
)
def test_real_processes_never_show_a_traceback(tmp_path, argv, expected):
    make_sandbox(tmp_path)
    before = snapshot(tmp_path)
    done = python_m(tmp_path, *argv, env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"})
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == expected, err
    assert b"Traceback" not in done.stderr
    if expected:
        assert err.count("\n") == 1 and "error:" in err
        assert snapshot(tmp_path) == before
    else:
        assert done.stderr == b""
        IrisNetwork().load(tmp_path / os.fsdecode(argv[-1]))


@pytest.mark.parametrize(
    "argv", [["--help"], ["table", "--help"], ["table"], ["optimize-b3", "--json"], ["graph", "-o", "-"]]
)
def test_a_full_stdout_is_an_error_not_a_success(tmp_path, argv):
    """Regression: --help into a full disk (/dev/full) exited 0 with nothing written."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "tinygrad_iris", *argv], stdout=full, stderr=subprocess.PIPE, cwd=tmp_path
        )
    assert done.returncode == 1
    assert done.stderr == b"tinygrad-iris: error: [Errno 28] No space left on device\n"


def test_output_lost_in_a_buffer_is_an_error(monkeypatch, capsys):
    """The disk fills up only when the buffered help is flushed: still exit 1, not 0."""

    class FullDisk(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BufferedWriter(FullDisk()), encoding="utf-8"))
    status = cli.main(["--help"])
    assert status == 1
    assert capsys.readouterr().err == "tinygrad-iris: error: [Errno 28] No space left on device\n"


def _read_terminal(leader, until, seconds):
    """Read the terminal's output until ``until`` appears, or until it closes; return it all."""
    seen = b""
    end = time.monotonic() + seconds
    while until is None or until not in seen:
        ready, _, _ = select.select([leader], [], [], max(end - time.monotonic(), 0))
        assert ready, f"nothing more within {seconds} s: {seen[-200:]!r}"
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    return seen


def _default_sigint():
    """In the child: Ctrl-C raises KeyboardInterrupt even if this suite runs with SIGINT ignored
    (as a background job of a non-interactive shell does), which the child would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a running process (Linux's /proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_past_its_imports(child: subprocess.Popen) -> None:
    """Wait until the child has spent twice the CPU time its imports take, plus a margin. CPU time, not
    wall time: on a loaded machine a child can sleep in its imports for seconds, and a Ctrl-C there
    would test the interpreter's start, not the command's handling."""
    before = os.times()
    subprocess.run([sys.executable, "-c", "import tinygrad_iris.cli"], check=True)
    after = os.times()
    imports = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    started = time.monotonic()
    while _cpu_seconds(child.pid) < 2 * imports + 0.3:
        assert child.poll() is None, "the long run ended on its own"
        assert time.monotonic() - started < 120, "the child did not get past its imports in 120 s"
        time.sleep(0.05)


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--epochs", "1000000", "--save", "params.npz"],
        ["optimize-b3", "--steps", "1000000", "--json"],
    ],
)
def test_ctrl_c_during_a_long_run_exits_130_and_writes_nothing(tmp_path, argv):
    """A long but allowed run (a million epochs or steps), interrupted after a second as a user would."""
    command = [sys.executable, "-m", "tinygrad_iris", *argv]
    child = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_sigint
    )
    try:
        _wait_until_past_its_imports(child)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert err == b"" and out == b""  # lines mode prints every 100,000 epochs; JSON only at the end
    assert os.listdir(tmp_path) == []


def test_ctrl_c_with_a_progress_bar_on_a_terminal(tmp_path):
    """On a terminal the bar is on stderr; Ctrl-C ends its line, and nothing else is printed."""
    import pty

    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "tinygrad_iris", "train", "--epochs", "1000000", "--save", "params.npz"]
    child = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=follower, preexec_fn=_default_sigint
    )
    os.close(follower)
    try:
        shown = _read_terminal(leader, b"epoch ", 60)  # the bar is drawn: main is running
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        shown += _read_terminal(leader, None, 30)  # read while it exits: a closed pty drops its buffer
        child.wait(timeout=30)
    finally:
        child.kill()
        os.close(leader)
    text = codecs.decode(shown, "utf-8", "replace")
    assert child.returncode == 130
    assert "/1000000" in text and "Traceback" not in text and "error" not in text
    assert text.endswith("\n")
    assert os.listdir(tmp_path) == []
