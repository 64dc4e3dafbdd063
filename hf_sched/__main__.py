"""``python -m hf_sched``: the same as the ``hf-sched`` command.

>>> from hf_sched.cli import main
>>> main(["steps", "--max-steps", "100"], prog="python -m hf_sched")  # doctest: +ELLIPSIS
max_steps = 100 (overrides epochs)
...
0
"""

from __future__ import annotations

import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main(prog="python -m hf_sched"))
