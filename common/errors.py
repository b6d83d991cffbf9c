"""User-facing errors: one line, exit status 2, never a traceback (unless --debug)."""

from __future__ import annotations

import functools
import sys
from typing import Callable

USAGE_EXIT_STATUS = 2


class UsageError(Exception):
    """Bad input from the user (a flag, a file, an env id). The message names the culprit."""


def first_line(error: BaseException) -> str:
    """An exception's message cut to its first line (or its type's name, if it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def cli_main(main: Callable[[list[str] | None], None]) -> Callable[[list[str] | None], None]:
    """Wrap a script's ``main`` so a UsageError becomes ``error: ...`` on stderr and exit 2."""

    @functools.wraps(main)
    def wrapped(argv: list[str] | None = None) -> None:
        args = sys.argv[1:] if argv is None else argv
        try:
            main(args)
        except UsageError as error:
            if "--debug" in args:
                raise
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(USAGE_EXIT_STATUS) from None

    return wrapped
