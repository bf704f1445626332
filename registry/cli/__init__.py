"""The command line, ``python -m registry COMMAND``: the only stage that turns errors into exit codes.

- ``entry``: parse, run the command, map its error to an exit code (``main``, ``console_main``)
- ``parser``: every command's arguments and help
- ``commands``: one function per command
- ``exits``: the exit codes, one per class of error
- ``render``: what the commands print, as text from typed objects
- ``completion``: shell completion scripts
- ``startup``: garbage collection while a command starts
"""

from registry.cli.entry import console_main, main
from registry.cli.exits import ExitCode

__all__ = ["ExitCode", "console_main", "main"]
