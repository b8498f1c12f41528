"""Parameter files under attack: saves interrupted half-way, and every kind of bad file fed to the loader.

The loader's contract: a clear ValueError ("cannot load <path>: ...") for bad content, an OSError
for a path that cannot be read as a file, never any other exception, never an unpickle, and a
model that is bit-for-bit what it was before (compared through its full state_dict).
"""

import errno
import io
import os
import resource
import socket
import subprocess
import sys
import time
import zipfile
import zlib

import numpy as np
import pytest
from hostile import Blocked, deadline
from hypothesis import example, given
from hypothesis import strategies as st

from tinygrad_iris import files
from tinygrad_iris.files import MAX_ARCHIVE_BYTES, load_arrays, save_arrays
from tinygrad_iris.network import ARTICLE_PARAMETERS, IrisNetwork
from tinygrad_iris.nn import Linear

NAMES = list(ARTICLE_PARAMETERS)


def article_file(folder):
    """The articles' parameters saved by the library, as (path, bytes)."""
    path = folder / "article.npz"
    IrisNetwork().save(path)
    return path, path.read_bytes()


def snapshot(net):
    """Everything that loading could change: each parameter's value and Python type."""
    return {name: (type(p.data), np.array(p.data).tobytes()) for name, p in net.named_parameters()}


def a_model():
    """A model whose values differ from the file's, so any partial load would show."""
    return IrisNetwork.random(11)


def assert_refused(path, error=ValueError, *words):
    net = a_model()
    before = snapshot(net)
    with pytest.raises(error) as info:
        net.load(path)
    assert type(info.value) is error  # exactly ValueError or OSError, never a stray subclass
    message = str(info.value)
    assert message.startswith(f"cannot load {path}: "), message
    for word in words:
        assert word in message, message
    assert snapshot(net) == before
    return message


# ----- saving: atomic, durable, never half a file ------------------------------------------------------
def test_save_load_round_trip_is_exact_and_readable_by_numpy(tmp_path):
    source = IrisNetwork.random(5)
    path = source.save(tmp_path / "params.npz")
    assert os.listdir(tmp_path) == ["params.npz"]
    with np.load(path, allow_pickle=False) as archive:  # a plain .npz any NumPy can read
        assert sorted(archive.files) == sorted(NAMES)
        assert all(archive[name].shape == () and archive[name].dtype == np.float64 for name in NAMES)
    target = IrisNetwork()
    target.load(path)
    assert snapshot(target) == snapshot(source)


def test_a_module_with_array_parameters_round_trips(tmp_path):
    source, target = Linear(3, 4, rng=np.random.default_rng(0)), Linear(3, 4, rng=np.random.default_rng(1))
    target.load(source.save(tmp_path / "linear.npz"))
    np.testing.assert_array_equal(target.weight.data, source.weight.data)
    np.testing.assert_array_equal(target.bias.data, source.bias.data)
    with pytest.raises(ValueError, match="weight has shape"):
        Linear(4, 3).load(tmp_path / "linear.npz")


def test_the_data_is_fsynced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    IrisNetwork().save(tmp_path / "params.npz")
    assert events[:2] == ["fsync", "replace"]


class _FailingWrites:
    """A file object that accepts ``budget`` bytes, then fails as a full disk (or Ctrl-C) would."""

    def __init__(self, file, budget, error):
        self._file, self._budget, self._error = file, budget, error

    def write(self, data):
        if len(data) > self._budget:
            self._file.write(bytes(data[: self._budget]))
            self._budget = 0
            raise self._error
        self._budget -= len(data)
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)


@given(
    cut=st.integers(0, 10**6),
    error=st.sampled_from([OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()]),
)
@example(cut=0, error=OSError(errno.ENOSPC, "No space left on device"))
@example(cut=-1, error=KeyboardInterrupt())  # one byte short of the whole file
def test_a_save_failing_half_way_leaves_the_old_file_byte_identical(tmp_path_factory, cut, error):
    folder = tmp_path_factory.mktemp("save")
    path = folder / "params.npz"
    IrisNetwork.random(1).save(path)
    old = path.read_bytes()
    budget = cut % len(old)  # the new file has the same size: fail somewhere inside it
    real_write_atomically = files.write_atomically

    def failing_write_atomically(target, write):
        return real_write_atomically(target, lambda file: write(_FailingWrites(file, budget, error)))

    files.write_atomically = failing_write_atomically
    try:
        with pytest.raises(type(error)) as info:
            IrisNetwork().save(path)
    finally:
        files.write_atomically = real_write_atomically
    if isinstance(error, OSError):
        assert str(info.value) == f"cannot write {path}: No space left on device"
    assert path.read_bytes() == old
    assert os.listdir(folder) == ["params.npz"]  # the temporary file is gone too


def test_a_killed_save_leaves_the_old_file_intact(tmp_path):
    """SIGKILL cannot be cleaned up after: the old file survives, a hidden temporary may remain."""
    path = tmp_path / "params.npz"
    IrisNetwork.random(2).save(path)
    old = path.read_bytes()
    code = (
        "import sys, time\n"
        "from tinygrad_iris.files import write_atomically\n"
        "def half(file):\n"
        "    file.write(b'PK half an archive'); file.flush(); print('writing', flush=True); time.sleep(60)\n"
        "write_atomically(sys.argv[1], half)\n"
    )
    command = [sys.executable, "-c", code, str(path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout.readline() == "writing\n"
        child.kill()
        child.wait(timeout=30)
    assert path.read_bytes() == old
    leftovers = sorted(set(os.listdir(tmp_path)) - {"params.npz"})
    assert all(name.startswith(".params.npz.") and name.endswith(".tmp") for name in leftovers)
    assert len(leftovers) == 1


@pytest.mark.parametrize("kind", ["directory", "fifo", "socket"])
def test_a_non_regular_target_is_refused_not_replaced(tmp_path, kind):
    """os.replace would swap a pipe or a device (think /dev/null as root) for a regular file."""
    target = tmp_path / "target.npz"
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(target))
        server.close()
    mode = target.lstat().st_mode
    with pytest.raises(OSError, match=f"cannot write {target}: "):
        IrisNetwork().save(target)
    assert target.lstat().st_mode == mode and os.listdir(tmp_path) == ["target.npz"]


def test_a_name_near_the_length_limit_can_be_saved(tmp_path):
    path = tmp_path / ("p" * 251 + ".npz")  # 255 bytes: the longest name most file systems allow
    IrisNetwork().save(path)
    assert os.listdir(tmp_path) == [path.name]


def test_save_arrays_keeps_names_that_np_savez_would_swallow(tmp_path):
    arrays = {"allow_pickle": np.ones(2), "file": np.zeros(3), "args": np.array(4.0)}
    loaded = load_arrays(save_arrays(tmp_path / "odd.npz", arrays))
    assert sorted(loaded) == sorted(arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(loaded[name], array)


def test_save_arrays_refuses_object_arrays_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="Object arrays cannot be saved"):
        save_arrays(tmp_path / "x.npz", {"x": np.array([1, None], dtype=object)})
    assert os.listdir(tmp_path) == []


# ----- loading: paths ------------------------------------------------------------------------------------
def test_paths_that_cannot_be_read_are_os_errors(tmp_path):
    (tmp_path / "a file").write_text("x")
    os.mkfifo(tmp_path / "pipe.npz")
    cases = [
        (tmp_path / "absent.npz", "No such file or directory"),
        (tmp_path / "a file" / "child.npz", "Not a directory"),
        (tmp_path, "Is a directory"),
        ("/proc/self/mem", "Input/output error"),  # unreadable even to root
        (tmp_path / "pipe.npz", "not a regular file"),  # must not wait for a writer
        (tmp_path / ("x" * 300), "File name too long"),
    ]
    for path, words in cases:
        with deadline(10):
            message = assert_refused(path, OSError, words)
        assert "\n" not in message


def test_a_nul_byte_in_the_path_is_a_value_error(tmp_path):
    assert_refused(f"{tmp_path}/a\0b.npz", ValueError, "null byte")


# ----- loading: content --------------------------------------------------------------------------------
@given(
    data=st.one_of(
        st.binary(max_size=600),
        st.builds(lambda tail: b"PK\x03\x04" + tail, st.binary(max_size=600)),
        st.builds(lambda tail: b"PK\x05\x06" + tail, st.binary(max_size=100)),
        st.builds(lambda tail: b"\x93NUMPY" + tail, st.binary(max_size=300)),
        st.text(max_size=200).map(str.encode),
    )
)
@example(data=b"")
@example(data=b"\x80\x04\x95")  # the start of a pickle
def test_random_bytes_are_a_value_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("load") / "random.npz"
    path.write_bytes(data)
    assert_refused(path, ValueError)


def test_every_truncation_of_a_valid_file_is_a_value_error(tmp_path):
    """Each length from 0 to one byte short: inside every local header, array and directory entry."""
    _, whole = article_file(tmp_path)
    path = tmp_path / "truncated.npz"
    net = a_model()
    before = snapshot(net)
    for length in range(len(whole)):
        path.unlink(missing_ok=True)  # a fresh file: rewriting one in place makes ext4 flush each time
        path.write_bytes(whole[:length])
        with pytest.raises(ValueError, match=f"^cannot load {path}: "):
            net.load(path)
    assert snapshot(net) == before


@given(position=st.integers(0, 10**6), flip=st.integers(1, 255))
def test_a_corrupted_byte_is_refused_or_changes_nothing(tmp_path_factory, position, flip):
    """Array data is CRC-checked, so a changed byte is either caught or outside the data."""
    folder = tmp_path_factory.mktemp("flip")
    _, whole = article_file(folder)
    corrupted = bytearray(whole)
    corrupted[position % len(whole)] ^= flip
    path = folder / "flipped.npz"
    path.write_bytes(bytes(corrupted))
    net = a_model()
    before = snapshot(net)
    try:
        net.load(path)
    except ValueError as err:
        assert str(err).startswith(f"cannot load {path}: ")
        assert snapshot(net) == before
    else:
        assert snapshot(net) == snapshot(IrisNetwork())


# Each edit: (what it does to the articles' state, the words of the error or None if still valid).
# No NUL: zipfile cuts a member's name at NUL when reading (then it is caught as a duplicate).
_NAME = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=20)
_SHAPE = st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple)
_BAD_DTYPES = [
    (np.int64, "dtype int64"),
    (np.uint8, "dtype uint8"),
    (np.complex128, "dtype complex128"),
    (np.bool_, "dtype bool"),
    ("<U3", "dtype <U3"),
    ("S3", "dtype |S3"),
    ("datetime64[s]", "dtype datetime64[s]"),
    ([("a", "<f8")], "dtype"),
]


@st.composite
def _edits(draw):
    state = IrisNetwork().state_dict()
    name = draw(st.sampled_from(NAMES))
    kind = draw(
        st.sampled_from(
            ["missing", "extra", "misshapen", "dtype", "nonfinite", "object", "float128", "valid float"]
        )
    )
    if kind == "missing":
        del state[name]
        return state, f"missing {name}"
    if kind == "extra":
        extra = draw(_NAME.filter(lambda n: n not in state and n not in ("file", "allow_pickle")))
        state[extra] = np.array(1.0)
        return state, "unexpected"
    if kind == "misshapen":
        shape = draw(_SHAPE)
        state[name] = np.zeros(shape)
        return state, f"{name} has shape {shape}, expected ()"
    if kind == "dtype":
        dtype, words = draw(st.sampled_from(_BAD_DTYPES))
        state[name] = np.zeros((), dtype=dtype)
        return state, f"{name} has {words}"
    if kind == "nonfinite":
        state[name] = np.array(draw(st.sampled_from([np.nan, np.inf, -np.inf])))
        return state, f"{name} holds NaN or infinity"
    if kind == "object":
        state[name] = np.array(draw(st.sampled_from([None, "x", 1.0])), dtype=object)
        return state, f"array {name}: ValueError: Object arrays cannot be loaded"
    if kind == "float128":  # finite in long double, infinite in float64
        state[name] = np.array(np.longdouble(10) ** 400)
        return state, f"{name} holds NaN or infinity"
    dtype = draw(st.sampled_from([np.float16, np.float32, ">f8", np.longdouble]))
    state[name] = np.array(draw(st.floats(-1e4, 1e4)), dtype=dtype)
    return state, None


@given(edit=_edits())
def test_a_wrong_archive_is_refused_before_it_touches_the_model(tmp_path_factory, edit):
    state, words = edit
    path = tmp_path_factory.mktemp("edit") / "edited.npz"
    np.savez(path, **state)  # NumPy's own writer (it pickles object arrays), not the library's
    if words is not None:
        assert_refused(path, ValueError, words)
        return
    net = a_model()
    net.load(path)
    assert {name: p.data for name, p in net.named_parameters()} == {
        name: float(array) for name, array in state.items()
    }
    assert all(type(p.data) is float for p in net.parameters())


def _zip(tmp_path, members):
    path = tmp_path / "crafted.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return path


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array))
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
def test_crafted_archives_are_value_errors(tmp_path):
    state = IrisNetwork().state_dict()
    good = [(f"{name}.npy", _npy(array)) for name, array in state.items()]
    cases = [
        ([*good, ("b3.npy", _npy(np.array(7.0)))], "the name b3 appears more than once"),
        ([*good[:-1], ("b5", _npy(state["b5"]))], "member b5 is not a .npy array"),
        ([*good, ("notes.txt", b"hello")], "member notes.txt is not a .npy array"),
        ([*good, ("\x1b[31mred.npy", _npy(np.array(1.0)))], "unexpected '\\x1b[31mred'"),
        ([], "missing b1, b2"),
    ]
    for members, words in cases:
        message = assert_refused(_zip(tmp_path, members), ValueError, words)
        assert "\x1b" not in message


def test_a_header_claiming_a_huge_array_is_refused_without_allocating_it(tmp_path):
    for elements in (10**12, 2**31, 10**6):
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buffer, {"descr": "<f8", "fortran_order": False, "shape": (elements,)}
        )
        members = [("b3.npy", buffer.getvalue() + b"\0" * 64)]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert_refused(_zip(tmp_path, members), ValueError, "array b3")
        grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        assert grown_kib < 100_000


def test_an_archive_claiming_too_many_bytes_is_refused_unread(tmp_path):
    """A zip bomb: 80 MB of zeros deflate to 80 kB; the sizes in the directory give it away."""
    path = tmp_path / "bomb.npz"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("b3.npy", "w", force_zip64=True) as member,
    ):
        header = {"descr": "<f8", "fortran_order": False, "shape": (10**7,)}
        np.lib.format.write_array_header_1_0(member, header)
        zeros = bytes(2**20)
        for _ in range(80):
            member.write(zeros)
    assert path.stat().st_size < 1_000_000
    assert_refused(path, ValueError, f"more than the limit {MAX_ARCHIVE_BYTES:,}")


def test_a_file_larger_than_the_limit_is_refused_unread(tmp_path, monkeypatch):
    path, whole = article_file(tmp_path)
    monkeypatch.setattr(files, "MAX_ARCHIVE_BYTES", len(whole) - 1)
    assert_refused(path, ValueError, f"larger than {len(whole) - 1:,} bytes")


def test_a_crc_mismatch_is_caught(tmp_path):
    """The CRC of one array's data is wrong: zipfile's check must fire as numpy reads to the end."""
    path, whole = article_file(tmp_path)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("b3.npy")
    data_start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    corrupted = bytearray(whole)
    corrupted[data_start + info.file_size - 1] ^= 0x40  # the last byte of b3's float64
    assert zlib.crc32(bytes(corrupted[data_start : data_start + info.file_size])) != info.CRC
    path.write_bytes(bytes(corrupted))
    assert_refused(path, ValueError, "array b3", "CRC")


def test_unexpected_names_that_are_not_printable_are_shown_escaped():
    net = IrisNetwork()
    state = {**net.state_dict(), "evil\x1b]0;title\x07": np.array(1.0)}
    with pytest.raises(ValueError, match=r"unexpected 'evil\\x1b\]0;title\\x07'"):
        net.load_state_dict(state)


def test_a_finite_long_double_beyond_float64_is_refused():
    """Regression: the finiteness check ran before the cast, so 1e400 (float128) loaded as inf."""
    net = IrisNetwork()
    state = {**net.state_dict(), "b5": np.array(np.longdouble(10) ** 400)}
    before = snapshot(net)
    with pytest.raises(ValueError, match="b5 holds NaN or infinity"):
        net.load_state_dict(state)
    assert snapshot(net) == before


def test_loading_never_unpickles(tmp_path, monkeypatch):
    """Even a member that is a pickle of a harmless object is refused without calling pickle."""
    import pickle

    def no_pickle(*args, **kwargs):
        raise AssertionError("the loader unpickled")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    path = tmp_path / "pickled.npz"
    np.savez(path, **{**IrisNetwork().state_dict(), "b3": np.array([{"a": 1}], dtype=object)})
    assert_refused(path, ValueError, "Object arrays cannot be loaded")
    pickled = tmp_path / "raw.npz"
    pickled.write_bytes(pickle.dumps({"b3": 1.0}))
    assert_refused(pickled, ValueError, "not a NumPy .npz archive")


def test_helpers_used_above_behave():
    """The failing file object writes exactly its budget; the deadline fires."""
    sink = io.BytesIO()
    failing = _FailingWrites(sink, 5, OSError("full"))
    failing.write(b"abc")
    with pytest.raises(OSError, match="full"):
        failing.write(b"defg")
    assert sink.getvalue() == b"abcde"
    with pytest.raises(Blocked), deadline(0.05):
        time.sleep(3)


# ----- output paths: what the commands check before the work, and formats by name ---------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.png", "png"),
        ("A.PNG", "png"),
        ("g.gv", "dot"),
        ("g.dot", "dot"),
        ("x.tar.gz", "gz"),
        ("noext", ""),
    ],
)
def test_the_format_a_name_asks_for(name, expected):
    assert files.format_from_name(name) == expected


def test_suffixes_for_messages():
    assert files.suffixes(("png", "svg", "pdf")) == ".png, .svg or .pdf"
    assert files.suffixes(("html",)) == ".html"


def test_check_writable_refuses_what_cannot_be_written_and_touches_nothing(tmp_path):
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "file.txt").write_text("keep me")
    cases = [
        ("folder", "it is a directory"),
        ("pipe", "it exists and is not a regular file"),
        ("no/such.png", f"no directory {tmp_path / 'no'}"),
        ("file.txt/x.png", f"no directory {tmp_path / 'file.txt'}"),
        ("p" * 300 + ".png", "File name too long"),
    ]
    for name, words in cases:
        with pytest.raises(OSError) as info:
            files.check_writable(tmp_path / name)
        assert str(info.value) == f"cannot write {tmp_path / name}: {words}"
    files.check_writable(tmp_path / "new.png")  # absent, in a writable folder: fine
    files.check_writable(tmp_path / "file.txt")  # an existing regular file may be replaced
    assert sorted(os.listdir(tmp_path)) == ["file.txt", "folder", "pipe"]
    assert (tmp_path / "file.txt").read_text() == "keep me"


def test_check_writable_refuses_a_folder_it_may_not_write(tmp_path, monkeypatch):
    # as the os.access of a user without write permission says (root may write anywhere)
    monkeypatch.setattr(files.os, "access", lambda path, mode: not (path == tmp_path and mode == os.W_OK))
    with pytest.raises(OSError) as info:
        files.check_writable(tmp_path / "x.png")
    assert str(info.value) == f"cannot write {tmp_path / 'x.png'}: directory {tmp_path} is not writable"


def test_make_folder_creates_parents_and_refuses_a_file(tmp_path):
    assert files.make_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()
    assert files.make_folder(tmp_path / "a") == tmp_path / "a"  # already there
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(OSError, match="it is not a directory"):
        files.make_folder(tmp_path / "file.txt")
    with pytest.raises(OSError, match=f"cannot create the folder {tmp_path / 'file.txt' / 'sub'}: "):
        files.make_folder(tmp_path / "file.txt" / "sub")


def test_write_bytes_replaces_a_file_whole(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"old")
    assert files.write_bytes(path, b"new bytes") == path
    assert path.read_bytes() == b"new bytes" and os.listdir(tmp_path) == ["x.bin"]
