"""ftwizard's own small files (runs index, calibration store, status.json, process.json): written so
a crash or a full disk never leaves half a file, and read so a damaged one never stops a command.

Writing: a whole file goes to a temporary file beside it and is renamed over the old one (rename is
atomic on POSIX), so a reader sees the old file or the new one; if the write fails (ENOSPC, EFBIG,
a read-only folder), the old file is left as it was and the temporary file is removed. A line added
to a log-like file (the runs index, the calibration store) is one write() with O_APPEND, starting
on a new line when a crash left the last one unfinished.

Reading: a file that exists but is damaged (garbled bytes, not JSON, the wrong shape, a folder where
the file should be, unreadable) yields "nothing known" (or the readable part), and one warning per
file and problem: `warning: <file>: <problem>; <fix>`, on stderr for the CLI and in
:func:`warnings_seen` for the wizard. `ftwizard runs`, `attach`, `calibration list` and new runs
go on without the damaged file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

_SEEN: list[str] = []
# Who hears a warning instead of stderr: the wizard (a full-screen app owns the terminal, and a
# line printed under it would be lost or tear the screen) shows each as a notification.
_LISTENERS: list[Callable[[str], Any]] = []


def warn(path: str | Path, problem: str, fix: str) -> str:
    """Say once per process that `path` is damaged, what is wrong and how to repair or remove it."""
    text = f"{path}: {problem}; {fix}"
    if text not in _SEEN:
        _SEEN.append(text)
        for listener in list(_LISTENERS):
            with contextlib.suppress(Exception):  # a view's failure must not add a failure
                listener(text)
        if not _LISTENERS:
            with contextlib.suppress(Exception):  # a closed or broken stderr must not add one
                print(f"warning: {text}", file=sys.stderr, flush=True)
    return text


def listen(callback: Callable[[str], Any]) -> Callable[[], None]:
    """Send damaged-file warnings to `callback` instead of stderr, the ones already given first;
    returns the call that stops it."""
    for text in list(_SEEN):
        with contextlib.suppress(Exception):
            callback(text)
    _LISTENERS.append(callback)

    def stop() -> None:
        with contextlib.suppress(ValueError):
            _LISTENERS.remove(callback)
    return stop


def warnings_seen() -> list[str]:
    """Every damaged-file warning given in this process, oldest first (the wizard shows them)."""
    return list(_SEEN)


def atomic_write(path: str | Path, data: str | bytes, *, mode: int | None = None,
                 sync: bool = True) -> None:
    """Replace `path` with `data` in one step; on any error the old file stays and the error is
    raised (OSError: the caller decides whether a full disk is fatal). `sync=False` skips the
    fsync for files rewritten every step (status.json): a crash may then lose the newest version,
    never leave half of one."""
    p = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644 if mode is None else mode)
        try:
            view = memoryview(raw)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            if sync:
                with contextlib.suppress(OSError):
                    os.fsync(fd)
        finally:
            os.close(fd)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.errno is not None:
            # name the file the user knows, not our temporary one
            raise OSError(err.errno, err.strerror, str(p)) from err
        raise


def overwrite_in_place(path: str | Path, data: str) -> None:
    """Last resort on a full disk, when a new temporary file cannot be created: rewrite the small
    existing file's own blocks (no new space needed while it does not grow past them). Not atomic:
    a reader may see half of it for a moment, and reads it defensively."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        raw = data.encode("utf-8")
        os.write(fd, raw)
        os.ftruncate(fd, len(raw))
    finally:
        os.close(fd)


def append_line(path: str | Path, line: str) -> None:
    """Add one line with a single O_APPEND write (whole, or not at all, for concurrent writers);
    when the file's last line was left unfinished by a crash, start on a new line."""
    p = Path(path)
    text = line.rstrip("\n") + "\n"
    fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:
            with open(p, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    text = "\n" + text
        raw = text.encode("utf-8")
        if os.write(fd, raw) != len(raw):
            raise OSError(28, "short write (no space left on device?)", str(p))
    finally:
        os.close(fd)


def read_text(path: str | Path, *, what: str, fix: str) -> str | None:
    """The file's text; None when it does not exist. A damaged file (not UTF-8, a folder, not
    readable) gives a warning and the text that can be read (undecodable bytes replaced)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        warn(p, f"the {what} is a folder, not a file", fix)
        return None
    except OSError as err:
        warn(p, f"the {what} cannot be read ({err.strerror or err})", fix)
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        warn(p, f"the {what} holds bytes that are not text (byte {err.start})", fix)
        return raw.decode("utf-8", "replace")


def read_json(path: str | Path, *, what: str, fix: str) -> dict[str, Any] | None:
    """A JSON object from `path`; None when missing or damaged (damaged: with a warning)."""
    text = read_text(path, what=what, fix=fix)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        # Half a file (a crash before status.json was written atomically, a full disk): say so.
        warn(path, f"the {what} is not valid JSON ({_preview(text)})", fix)
        return None
    if not isinstance(data, dict):
        warn(path, f"the {what} holds a JSON {type(data).__name__}, not an object", fix)
        return None
    return data


def exists_damaged(path: str | Path) -> bool:
    """True when `path` exists but :func:`read_json` cannot make an object of it (no warning)."""
    p = Path(path)
    if not p.exists():
        return False
    try:
        return not isinstance(json.loads(p.read_bytes().decode("utf-8")), dict)
    except (OSError, ValueError):
        return True


def _preview(text: str, n: int = 24) -> str:
    s = text.strip()
    if not s:
        return "empty"
    return repr(s[:n] + ("..." if len(s) > n else ""))


_DISK_ERRNOS = {28: "no space left on device", 122: "disk quota exceeded",
                27: "file too large for the file size limit (ulimit -f) or the filesystem"}
_DISK_TEXTS = ("no space left on device", "disk quota exceeded", "file too large")


def disk_problem(err: BaseException) -> str | None:
    """What about the disk stopped `err` (ENOSPC, EDQUOT, EFBIG, also when wrapped in another
    library's error, e.g. torch's "file write failed" or safetensors' "os error 28"), or None."""
    import errno

    names = {errno.ENOSPC: _DISK_ERRNOS[28], errno.EDQUOT: _DISK_ERRNOS[122],
             errno.EFBIG: _DISK_ERRNOS[27]}
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in names:
            return names[e.errno]
        text = str(e).lower()
        for t in _DISK_TEXTS:
            if t in text:
                return _DISK_ERRNOS[{0: 28, 1: 122, 2: 27}[_DISK_TEXTS.index(t)]]
        if "os error 28" in text:
            return _DISK_ERRNOS[28]
        e = e.__cause__ or e.__context__
    return None


def is_disk_full(err: BaseException) -> bool:
    return disk_problem(err) is not None


def os_error_message(err: OSError) -> tuple[str, int]:
    """The last line of defence for a file error no command caught: the file, what the system said
    and what to do, and the exit code (3: the disk is full, like a plan that does not fit;
    2: a path that cannot be used as it is; 1: anything else)."""
    import errno

    where = err.filename or "a file"
    if err.filename2:
        where = f"{err.filename} -> {err.filename2}"
    what = err.strerror or str(err)
    problem = disk_problem(err)
    if problem:
        return (f"{problem} writing {where}\n  fix: free space on that disk (`df -h`) or choose "
                "another folder, then run the command again", 3)
    fixes = {
        errno.EROFS: "the filesystem is read-only: choose a folder on a writable disk",
        errno.EACCES: "you may not write there: choose a folder you own, or fix its permissions",
        errno.EPERM: "you may not write there: choose a folder you own, or fix its permissions",
        errno.ENOTDIR: "a file is where a folder is needed: move it, or choose another path",
        errno.EEXIST: "a file is where a folder is needed: move it, or choose another path",
        errno.EISDIR: "a folder is where a file is needed: move it, or choose another path",
        errno.ENOENT: "check the path (relative paths start from the current folder)",
    }
    fix = fixes.get(err.errno)
    if fix is None:
        return f"cannot use {where}: {what}", 1
    return f"cannot use {where}: {what}\n  fix: {fix}", 2
