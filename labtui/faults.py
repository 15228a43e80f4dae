"""Faults of the machine a step runs on — a full disk, a failing one, a read-only or missing
folder — said in one line with what to do, instead of as a bug in the step.

A step that meets one raises the `OSError` the operating system gave; the engine turns it
into this line (and still keeps the traceback in its error log).
"""

from __future__ import annotations

import errno
import os

_WHAT: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space is left on the disk", "free some space, then run the step again"),
    errno.EDQUOT: ("the disk quota is used up", "free some space, then run the step again"),
    errno.EIO: ("input/output error: the disk or the file system behind it is failing",
                "check the disk (or copy the file elsewhere), then run the step again"),
    errno.EROFS: ("the file system is read-only", "use a writable folder"),
    errno.EACCES: ("permission denied", "check who owns it and its permissions"),
    errno.EPERM: ("the operation is not permitted", "check who owns it and its permissions"),
    errno.ENOENT: ("it does not exist", "check the path"),
    errno.EMFILE: ("too many files are open", "close other programs, then run it again"),
}


def describe_os_error(exc: OSError) -> str:
    """One line: which file, what the system said, what to do."""
    code = exc.errno if isinstance(exc.errno, int) else None
    said, advice = _WHAT.get(code or -1, (
        (exc.strerror or str(exc) or type(exc).__name__).rstrip(".").lower(),
        "run the step again once it is fixed"))
    name = errno.errorcode.get(code, type(exc).__name__) if code is not None else \
        type(exc).__name__
    files = [os.fsdecode(f) for f in (exc.filename, exc.filename2) if f is not None]
    where = f"{' → '.join(files)}: " if files else ""
    return f"{where}{said} ({name}); {advice}"
