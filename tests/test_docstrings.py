"""Every runnable example in hf_sched's docstrings runs and prints what it says.

The docstrings carry the formula and an example for each public function (the house rule);
an example that drifts from the code is a wrong promise, so each module's doctests are a test.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

from test_layout import PACKAGE_DIR, find_modules

MODULES = sorted(find_modules(PACKAGE_DIR))


def test_every_module_is_collected():
    assert "hf_sched.lr_scheduler" in MODULES and "hf_sched.integrations.lightning" in MODULES
    assert len(MODULES) > 40


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures = []
    for test in finder.find(module, name):
        result = runner.run(test, out=failures.append)
        assert result.failed == 0, "".join(failures)
