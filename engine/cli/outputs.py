"""Every output a command writes goes through here: never a traceback, never a lost byte.

- A file is written whole or not at all: a temporary file in the same folder, fsync, rename.
- Only a regular file or a new path in an existing folder is replaced: never a device node, a FIFO,
  a socket, a symbolic link or a folder (they are refused, and left as they are).
- An output that is one of the command's inputs is refused (same resolved path or same file).
- Every OSError becomes an `OutputError` naming the path and the reason (exit code 1); a refused
  output is a usage error (exit code 2).
- Standard output: a closed pipe or a full disk is an `OutputError` too, and what is still buffered
  is discarded so that Python does not complain again on exit.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterable, Iterator, Optional

from mips_rules.dsl.errors import Diagnostic, RulesError

USAGE = 2  # exit code of a refused output (like a bad option)


class OutputError(RulesError):
    """An output that cannot be written, or is refused; `exit_code` is what the CLI exits with."""

    def __init__(self, message: str, exit_code: int = 1, hint: Optional[str] = None):
        super().__init__(Diagnostic(message, hint=hint))
        self.exit_code = exit_code


def reason(exc: OSError) -> str:
    """An OSError's reason in words (`No space left on device`, `Permission denied`)."""
    if exc.errno is not None and exc.strerror:
        return exc.strerror
    if exc.errno is not None:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


def write_error(path: Path | str, exc: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {reason(exc)}")


def _kind(mode: int) -> str | None:
    """What a non-regular file is, in words (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _same(a: Path, b: Path) -> bool:
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_output(path: Path | str, inputs: Iterable[Path | str | None] = (), *, what: str = "output") -> Path:
    """Refuse an output that is not a regular file or a new path in an existing, writable folder,
    or that is one of the inputs. Returns the path."""
    path = Path(path)
    if str(path) in ("", "."):
        raise OutputError(f"{what}: give a file name", USAGE)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise OutputError(f"cannot write {path}: {_nearest_file(path)} is a file, not a folder", USAGE) from None
    except OSError as exc:
        raise write_error(path, exc) from None
    if st is not None:
        kind = _kind(st.st_mode)
        if kind is not None:
            raise OutputError(f"refusing to write {path}: it is {kind}; an {what} replaces only a regular file "
                              "(or is a new file in an existing folder)", USAGE)
    for source in inputs:
        if source is not None and (st is not None or os.path.lexists(source)) and _same(path, Path(source)):
            raise OutputError(f"refusing to write {path}: it is also an input ({source}); "
                              f"give the {what} another name", USAGE)
    parent = path.parent
    try:
        pst = os.stat(parent)
    except FileNotFoundError:
        raise OutputError(f"cannot write {path}: the folder {parent} does not exist", USAGE) from None
    except NotADirectoryError:
        raise OutputError(f"cannot write {path}: {_nearest_file(path)} is a file, not a folder", USAGE) from None
    except OSError as exc:
        raise write_error(path, exc) from None
    if not stat.S_ISDIR(pst.st_mode):
        raise OutputError(f"cannot write {path}: {parent} is not a folder", USAGE)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: Permission denied (the folder {parent} is not writable)")
    return path


def _nearest_file(path: Path) -> Path:
    """The first component of a path that exists and is not a folder."""
    for p in reversed(path.parents):
        if os.path.lexists(p) and not os.path.isdir(p):
            return p
    return path.parent


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not every file system syncs folders
    finally:
        os.close(fd)


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o644


def commit(tmp: Path, path: Path) -> None:
    """Rename a complete, synced temporary file over `path` (checked again just before)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and _kind(st.st_mode) is not None:
        raise OutputError(f"refusing to write {path}: it is {_kind(st.st_mode)} "
                          "(it changed while the output was written)", USAGE)
    os.chmod(tmp, _mode_for(path) if st is not None else 0o644)
    os.replace(tmp, path)
    _fsync_folder(path.parent)


@contextmanager
def atomic_file(path: Path | str, *, inputs: Iterable[Path | str | None] = (), binary: bool = False,
                newline: Optional[str] = None) -> Iterator[IO]:
    """A file to write; it replaces `path` only when the block completes, synced to disk."""
    path = check_output(path, inputs)
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise write_error(path, exc) from None
    tmp = Path(name)
    try:
        handle = os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": newline}))
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        commit(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_file(path: Path | str, data: str | bytes, *, inputs: Iterable[Path | str | None] = ()) -> Path:
    """Write `data` to `path` atomically (see `atomic_file`)."""
    with atomic_file(path, inputs=inputs, binary=isinstance(data, bytes)) as out:
        out.write(data)
    return Path(path)


def stdout_error(exc: OSError) -> OutputError:
    """Standard output failed: discard what is buffered (so exit does not fail again) and say why."""
    _discard_stdout()
    if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
        return OutputError("cannot write to standard output: the pipe was closed (broken pipe)")
    return OutputError(f"cannot write to standard output: {reason(exc)}")


def _discard_stdout() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a real file (a test runner's buffer)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass


@contextmanager
def stdout_guard() -> Iterator[None]:
    """Whatever the block prints to standard output reaches it, or an OutputError says why not."""
    try:
        yield
        sys.stdout.flush()
    except OSError as exc:
        raise stdout_error(exc) from None


def write_stdout(text: str) -> None:
    with stdout_guard():
        sys.stdout.write(text)


def emit(text: str, output: Path | str | None, *, inputs: Iterable[Path | str | None] = ()) -> None:
    """Standard output, or a file written whole (or not at all)."""
    if output is None:
        write_stdout(text)
    else:
        write_file(output, text, inputs=inputs)


def sha256_file(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stdout_console(**kwargs):  # -> rich.console.Console
    """A rich Console on standard output whose broken pipe is an error like any other (rich's own
    default exits silently): use it inside `stdout_guard`."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    return _Console(**kwargs)
