"""Optional tools in tests: a skip where one is not installed, a loud failure in CI.

``pytest.importorskip`` skips a whole file when its import fails for any reason, so a tool
that is installed but broken (an incompatible dependency) skipped its tests in silence.
:func:`require` skips only when the module itself is absent, and never when the variable
``HF_SCHED_REQUIRE_OPTIONAL=1`` is set (``.ci/run`` sets it: every tool of ``.[dev]`` must
import there), so in CI a missing or broken tool is an error that names it.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

__all__ = ["REQUIRE_VARIABLE", "require"]

#: set to 1 where every optional tool must be importable (CI)
REQUIRE_VARIABLE = "HF_SCHED_REQUIRE_OPTIONAL"


def require(name: str) -> ModuleType:
    """Import ``name``; skip the caller if that module is not installed (unless required).

    >>> require("json").__name__
    'json'
    """
    if os.environ.get(REQUIRE_VARIABLE) == "1":
        return importlib.import_module(name)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not name.startswith(exc.name):  # a dependency of it is missing: broken
            raise
        pytest.skip(f"{name} is not installed (CI sets {REQUIRE_VARIABLE}=1 and fails instead)", allow_module_level=True)
