"""Exit statuses of ``hf-sched`` and the one error type its subcommands raise.

Every subcommand reports bad input by raising :class:`UsageError`; :func:`hf_sched.cli.main`
prints it as one line, ``hf-sched <command>: error: <message>``, on stderr and returns
:data:`EXIT_USAGE`.

>>> str(UsageError("--steps 0: must be >= 1")), EXIT_USAGE
('--steps 0: must be >= 1', 2)
"""

from __future__ import annotations

__all__ = ["UsageError", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE"]

#: Done.
EXIT_OK = 0
#: The environment failed (a missing optional dependency, a broken pipe).
EXIT_FAILURE = 1
#: Bad input: unknown name or kwarg, bad number, bad JSON, impossible warmup, a size over a cap...
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the command line; reported on stderr with exit status 2."""
