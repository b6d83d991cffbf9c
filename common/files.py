"""Atomic file writes (a crash never leaves a half-written file under the final name) and
directory locks (one run writes into a directory at a time)."""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from common.errors import UsageError


def check_writable_dir(directory: str | Path, flag: str) -> Path:
    """Raise UsageError naming ``flag`` unless ``directory`` is, or could be made, a writable
    directory. Creates nothing, so a script can check all its outputs before writing any."""
    path = Path(directory)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag} {path}: cannot create directory ({existing} is not a directory)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: {existing} is not writable")
    return path


def ensure_writable_dir(directory: str | Path, flag: str) -> Path:
    """Create ``directory`` if needed; raise UsageError naming ``flag`` if it cannot be written."""
    path = check_writable_dir(directory, flag)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"{flag} {path}: cannot create directory ({error.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: directory is not writable")
    return path


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which would race with threads.
UMASK = _read_umask()


def atomic_write_bytes(path: str | Path, payload: bytes) -> None:
    """Write to a temp file in the same directory, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates owner-only files; give the result the usual permissions instead.
        os.chmod(temp_name, 0o666 & ~UMASK)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


class DirectoryLock:
    """One writer per directory: an exclusive ``flock`` on ``<directory>/.lock``, held until the
    process exits (the OS drops it even after a kill -9, so a stale lock cannot block a resume).
    The lock file holds the holder's PID, for the error a second run gets."""

    FILE_NAME = ".lock"

    def __init__(self, directory: Path, flag: str) -> None:
        path = Path(directory) / self.FILE_NAME
        self.handle = open(path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "unknown"
            self.handle.close()
            raise UsageError(f"{flag} {directory}: another run (PID {holder}) is using this directory; wait for "
                             "it to finish or choose another directory") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"{os.getpid()}\n")
        self.handle.flush()

    def release(self) -> None:
        self.handle.close()
