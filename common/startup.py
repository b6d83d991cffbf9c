"""Imported first by every entry script, before anything imports TensorFlow:

- TensorFlow is imported only after the flags are parsed (``start_tensorflow``, called by the
  modules that need it: gail_suite.py and the work modules of the tool scripts), so ``--help``
  and a bad flag answer in well under a second instead of after TensorFlow's 3 s start.
- TensorFlow's start-up logging (absl's "log messages before InitializeLog", CUDA probing, CPU
  feature notes) goes to the terminal from C++ whatever TF_CPP_MIN_LOG_LEVEL says, so an error
  of ours would follow six lines of noise. TensorFlow is imported, and its devices probed, with
  file descriptor 2 pointed at /dev/null; nothing else is hidden (oneDNN stays on).
- Ctrl-C outside a training loop (while TensorFlow imports, while demonstrations load) prints
  one line and exits 130 instead of a page of traceback. The training loops catch SIGINT
  themselves and checkpoint first; file writes are atomic (common/files.py), so an
  interrupted script leaves no partial file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from types import TracebackType
from typing import Iterator

INTERRUPTED_EXIT_STATUS = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C'd command


@contextlib.contextmanager
def stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 (C and C++ code's stderr, not just Python's) at /dev/null."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def start_tensorflow() -> None:
    """Import TensorFlow and probe its devices with C++'s stderr silenced (once; later calls are free).
    Ctrl-C meanwhile is the one-line ``interrupted``, exit 130."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Ctrl-C is remembered, not only raised: something in TensorFlow's import can swallow the
    # KeyboardInterrupt (seen once in CI: the run then trained to the end), and it must still stop.
    interrupted = []

    def remember_and_raise(signal_number: int, frame: object) -> None:
        interrupted.append(signal_number)
        raise KeyboardInterrupt

    in_main_thread = threading.current_thread() is threading.main_thread()  # the only one signals reach
    previous = signal.signal(signal.SIGINT, remember_and_raise) if in_main_thread else None
    try:
        with stderr_silenced():
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe ("failed call to cuInit") happens here
    except KeyboardInterrupt:
        interrupted.append(signal.SIGINT)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
    if interrupted:
        _one_line_interrupt(KeyboardInterrupt, KeyboardInterrupt(), None)


def _one_line_interrupt(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.stdout.flush()
        print("interrupted", file=sys.stderr, flush=True)
        os._exit(INTERRUPTED_EXIT_STATUS)  # skip interpreter teardown: a second Ctrl-C there traces again
    sys.__excepthook__(kind, error, trace)


sys.excepthook = _one_line_interrupt
