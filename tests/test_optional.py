"""tests/optional.py: an absent optional tool skips its tests here and fails them in CI."""

from __future__ import annotations

import pytest


def test_require_skips_an_absent_tool_and_fails_in_ci(monkeypatch):
    """What CI relies on: with HF_SCHED_REQUIRE_OPTIONAL=1 a missing optional tool is an error, not a skip."""
    from optional import REQUIRE_VARIABLE, require

    monkeypatch.delenv(REQUIRE_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="hf_sched_no_such_tool is not installed"):
        require("hf_sched_no_such_tool")
    monkeypatch.setenv(REQUIRE_VARIABLE, "1")
    with pytest.raises(ModuleNotFoundError, match="hf_sched_no_such_tool"):
        require("hf_sched_no_such_tool")
