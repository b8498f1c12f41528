"""Files that are never half-written and never trusted: atomic writes, and `.npz` parameter
archives read without unpickling and checked before anything uses them.

This is the one module that writes files, tells a file's format from its name, and refuses paths
that must not be written; the figures and graphs are built elsewhere and handed here as bytes.

Writing: a temporary file in the same folder, flushed and fsynced, then `os.replace` (atomic),
so an existing file is either untouched or wholly replaced. Reading: only regular files (a
pipe or device could block or never end), and an `.npz` archive only as named float arrays.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = [
    "IMAGE_FORMATS",
    "MAX_ARCHIVE_BYTES",
    "check_writable",
    "format_from_name",
    "load_arrays",
    "make_folder",
    "printable",
    "read_file",
    "save_arrays",
    "suffixes",
    "write_atomically",
    "write_bytes",
]

IMAGE_FORMATS = ("png", "svg", "pdf")
"""What the figures can be written as, by file-name suffix."""
MAX_ARCHIVE_BYTES = 64 * 2**20
"""An .npz larger than this, or claiming more, is refused unread."""
_NPY_MAGIC = b"\x93NUMPY"
_FORMAT_ALIASES = {"gv": "dot"}  # Graphviz's other extension for DOT text
# What os.stat raises for a path that is not there, or not reachable as named: check_writable
# lets its check of the folder say why.
_ABSENT = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EBADF)


def format_from_name(path: str | os.PathLike[str]) -> str:
    """The format a file name asks for: its extension in lower case, without the dot ("" if none).

    ``.gv`` is DOT text ("dot"). Whether the format is one the caller can write is the caller's check.
    """
    extension = Path(path).suffix.lower().lstrip(".")
    return _FORMAT_ALIASES.get(extension, extension)


def suffixes(formats: Sequence[str]) -> str:
    """``(png, svg, pdf)`` -> ".png, .svg or .pdf", for messages."""
    dotted = [f".{format}" for format in formats]
    return ", ".join(dotted[:-1]) + f" or {dotted[-1]}" if len(dotted) > 1 else "".join(dotted)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _refuse_non_regular(target: Path, absent: tuple[int, ...] = (errno.ENOENT,)) -> None:
    """os.replace would swap a folder, pipe or device (/dev/null!) for a regular file: refuse."""
    try:
        mode = os.stat(target).st_mode
    except OSError as err:
        if err.errno in absent:
            return
        raise OSError(f"cannot write {target}: {err.strerror or err}") from None
    if stat.S_ISDIR(mode):
        raise OSError(f"cannot write {target}: it is a directory")
    if not stat.S_ISREG(mode):
        raise OSError(f"cannot write {target}: it exists and is not a regular file")


def check_writable(path: str | os.PathLike[str]) -> None:
    """Fail before the work, not after it, when ``path`` cannot be written: OSError "cannot write".

    It must not be a folder, pipe or device, and its folder must exist and be writable. Passing
    is no promise (the disk can still fill up): `write_atomically` makes sure nothing is half-written.
    """
    target = Path(path)
    _refuse_non_regular(target, absent=_ABSENT)
    folder = target.parent
    if not folder.is_dir():
        raise OSError(f"cannot write {target}: no directory {folder}")
    if not os.access(folder, os.W_OK):
        raise OSError(f"cannot write {target}: directory {folder} is not writable")


def make_folder(path: str | os.PathLike[str]) -> Path:
    """The folder ``path``, created (with its parents) if it is not there; OSError if it cannot be."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OSError(f"cannot write to {folder}: it is not a directory")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"cannot create the folder {folder}: {err.strerror or err}") from None
    return folder


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a temporary file next to ``path``, then move it onto ``path``.

    The data is flushed and fsynced before the move. On any error (including KeyboardInterrupt)
    the temporary file is removed and ``path`` is left as it was. An OSError (unwritable folder,
    ``path`` a folder or device, disk full) says "cannot write <path>: <reason>". A symbolic link
    at ``path`` is replaced by the new file, not written through.
    """
    target = Path(path)
    _refuse_non_regular(target)
    # The temporary name is capped so that a name near the file system's limit still fits.
    prefix = f".{target.name[:100]}."
    try:
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=".tmp")
    except OSError as err:
        raise OSError(f"cannot write {target}: {err.strerror or err}") from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private; give it a normal file's mode
        os.replace(temporary, target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(err, OSError):
            raise OSError(f"cannot write {target}: {err.strerror or err}") from None
        raise
    return target


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """`write_atomically` of ``data``: a drawing rendered before its file is touched."""
    return write_atomically(path, lambda file: file.write(data))


def save_arrays(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> Path:
    """Write named arrays to an uncompressed ``.npz`` at ``path`` (exactly that name), atomically.

    The archive is what `np.savez` writes, minus pickle (an object array is a ValueError) and
    minus its keyword clash: np.savez would drop an array named "allow_pickle" without a word.
    """

    def write(file: BinaryIO) -> None:
        with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)

    return write_atomically(path, write)


def read_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    OSError (from the system, naming the file) if it cannot be read or is a folder, pipe or
    device: it is opened without blocking, so a pipe with no writer is refused, not waited on.
    ValueError "larger than <limit> bytes" if it holds more.
    """
    name = os.fspath(path)
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file", name)
        data = b""
        while len(data) <= limit:
            chunk = os.read(descriptor, limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as err:
        raise OSError(err.errno, err.strerror, name) from None
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise ValueError(f"larger than {limit:,} bytes")
    return data


def printable(name: str) -> str:
    """A name as is if printable, else its repr: names read from a file may hold terminal escapes."""
    return name if name.isprintable() else repr(name)


class _ContentError(ValueError):
    """A well-formed archive whose members are not what a parameter file holds."""


def load_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The named arrays of the ``.npz`` archive at ``path``, read without unpickling.

    Raises OSError "cannot load <path>: <reason>" if the path cannot be read as a regular file,
    and ValueError "cannot load <path>: <reason>" for anything that is not an archive of ``.npy``
    arrays with distinct names: a single ``.npy``, a corrupt or truncated zip, pickled (object)
    arrays, other members, or more than `MAX_ARCHIVE_BYTES` (on disk or claimed by the arrays).
    """
    where = f"cannot load {os.fspath(path)}"
    try:
        data = read_file(path, MAX_ARCHIVE_BYTES)
    except OSError as err:
        raise OSError(f"{where}: {err.strerror or err}") from None
    except ValueError as err:  # too large, or a NUL byte in the name
        raise ValueError(f"{where}: {err}") from None
    if data.startswith(_NPY_MAGIC):
        raise ValueError(f"{where}: expected an .npz archive of named arrays, found one array")
    # Everything below reads from memory, so any error is the content's, never the disk's.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return _read_members(archive)
    except _ContentError as err:
        raise ValueError(f"{where}: {err}") from None
    except Exception as err:  # zip and array-header corruption surfaces as many kinds
        raise ValueError(f"{where}: not a NumPy .npz archive ({type(err).__name__}: {err})") from None


def _read_members(archive: zipfile.ZipFile) -> dict[str, np.ndarray]:
    members = archive.infolist()
    claimed = sum(member.file_size for member in members)
    if claimed > MAX_ARCHIVE_BYTES:
        raise _ContentError(f"its arrays claim {claimed:,} bytes, more than the limit {MAX_ARCHIVE_BYTES:,}")
    arrays: dict[str, np.ndarray] = {}
    for member in members:
        name = member.filename.removesuffix(".npy")
        if name == member.filename:
            raise _ContentError(f"member {printable(member.filename)} is not a .npy array")
        if name in arrays:
            raise _ContentError(f"the name {printable(name)} appears more than once")
        try:
            with archive.open(member) as array_file:
                arrays[name] = np.lib.format.read_array(array_file, allow_pickle=False)
        except Exception as err:  # a corrupt member, or an object array (only pickle could read it)
            raise _ContentError(f"array {printable(name)}: {type(err).__name__}: {err}") from None
    return arrays
