"""``python -m registry``'s entry: parse the arguments, run the command, and turn errors into exit codes.

This is the only place that catches ``RegistryError``: it prints the message
to stderr and returns the exit code for the error's class (``registry.cli.exits``).
Any other exception is a bug and keeps its traceback. ``REGISTRY_TRACEBACK=1``
prints the traceback of a ``RegistryError`` too (and of what caused it), for
plugin authors.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TextIO

from registry.cli.commands import COMMANDS
from registry.cli.exits import ExitCode, exit_code
from registry.cli.parser import TRACEBACK_ENV, build_parser
from registry.cli.startup import CALLER_GC, STARTUP_GC_THRESHOLD
from registry.errors import RegistryError

__all__ = ["console_main", "main"]


def _rank_prefix() -> str:
    return f"[rank {os.environ['RANK']}] " if "RANK" in os.environ and "WORLD_SIZE" in os.environ else ""


def _silence_stdout() -> None:
    """The reader of our output went away (``validate spec | head -1``): send the rest nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (a test's StringIO): nothing to redirect
        pass


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; return the exit code.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        out: where results go (default: stdout).
        err: where error messages go (default: stderr).
    """
    from registry.components.manager import env_flag

    out = out or sys.stdout
    err = err or sys.stderr
    saved = gc.get_threshold()
    token = CALLER_GC.set(saved)
    if 0 < saved[0] < STARTUP_GC_THRESHOLD:
        gc.set_threshold(STARTUP_GC_THRESHOLD, *saved[1:])
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # argparse exits on --help/--version (0) and on bad usage (2)
            return int(e.code or 0)
        return COMMANDS[args.command](args, out, err)
    except RegistryError as e:
        if env_flag(TRACEBACK_ENV):
            traceback.print_exception(e, file=err)
        print(f"error: {_rank_prefix()}{e}", file=err)
        return exit_code(e)
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.BROKEN_PIPE
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return ExitCode.INTERRUPTED
    finally:
        gc.set_threshold(*saved)
        CALLER_GC.reset(token)


def console_main() -> None:
    """Entry point of the ``registry`` console script."""
    sys.exit(main())
