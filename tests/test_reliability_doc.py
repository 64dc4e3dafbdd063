"""docs/reliability.md cannot drift: its bad-input table is regenerated from the cases here.

The cases (``tests/reliability_cases.py``) perform every bad input of issue 15 (and the
warmup-in-epochs ones of issue 13) for real and read the line the user sees. This test
renders them as the document's generated block and requires the document to hold exactly
that block; after a deliberate change of a message, rewrite it with::

    python tests/test_reliability_doc.py --write

It also checks that each message is one line, without a traceback and without advice to
load with ``weights_only=False``, and that every ``tests/<file>.py::<test>`` the promise
table names exists (and is marked ``(slow)`` exactly when it is a slow test).

Run time: about 20 s on the two cores here (the imports of torch, accelerate and datasets; the
runs of both recipes on a tiny BERT that issue 25's cases make, 2-5 s each; the rest about 2 s).
"""

from __future__ import annotations

import ast
import difflib
import os
import re
import sys
from pathlib import Path
from typing import Sequence

import pytest

from reliability_cases import ROOT, Case, build_cases, run_cases, workspace

DOC = ROOT / "docs" / "reliability.md"
BEGIN = "<!-- BEGIN GENERATED: bad inputs -->"
END = "<!-- END GENERATED -->"
WRITE_COMMAND = "python tests/test_reliability_doc.py --write"
# `tests/test_x.py::test_name`, optionally `Class::test_name`, optionally followed by ` (slow)`
TEST_REFERENCE = re.compile(r"tests/(?P<file>[\w/]+\.py)::(?P<name>[\w:]+)`?(?P<slow> \(slow\))?")


# --------------------------------------------------------------------------- rendering


def _code(text: str) -> str:
    """``text`` as a code span that survives a markdown table cell."""
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def render(results: Sequence[tuple[Case, str]]) -> str:
    """The generated block (between the markers): one table per area, in the cases' order."""
    lines = [
        f"_{len(results)} cases, generated from `tests/reliability_cases.py` by `{WRITE_COMMAND}`; "
        "checked by `tests/test_reliability_doc.py`. Do not edit by hand._",
    ]
    area = None
    for case, message in results:
        if case.area != area:
            area = case.area
            lines += ["", f"### {area}", "", "| What the user did | What they see |", "| --- | --- |"]
        action = case.action.replace("|", "\\|")
        lines.append(f"| {action} | {_code(message)} |")
    return "\n".join(lines)


def split_doc(text: str) -> tuple[str, str, str]:
    """``(before, block, after)`` around the generated block."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"{DOC.name} must hold the markers {BEGIN!r} and {END!r} once each, in that order")
    before, rest = text.split(BEGIN)
    block, after = rest.split(END)
    return before, block.strip("\n"), after


def write_doc(block: str) -> None:
    before, _, after = split_doc(DOC.read_text(encoding="utf-8"))
    DOC.write_text(f"{before}{BEGIN}\n{block}\n{END}{after}", encoding="utf-8")


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def results(offline_hf_home) -> list[tuple[Case, str]]:
    with workspace() as tmp:
        return run_cases(build_cases(tmp), tmp)


def test_the_generated_table_is_current(results):
    _, block, _ = split_doc(DOC.read_text(encoding="utf-8"))
    expected = render(results)
    if block != expected:
        diff = "\n".join(difflib.unified_diff(block.splitlines(), expected.splitlines(), "docs/reliability.md",
                                              "what the cases print now", lineterm="", n=0))
        pytest.fail(f"docs/reliability.md is out of date; run `{WRITE_COMMAND}` to regenerate it.\n{diff}")


def test_every_message_is_one_clear_line(results):
    for case, message in results:
        assert message.strip() and "\n" not in message, (case.action, message)
        assert "Traceback" not in message, (case.action, message)
        assert "weights_only=False" not in message, (case.action, message)
        assert "<tmp>" not in case.area and not re.search(r"/tmp/|PID \d", message), (case.action, message)


def test_the_cases_are_many_and_distinct(results):
    actions = [case.action for case, _ in results]
    assert len(set(actions)) == len(actions), "two cases describe the same input"
    assert len(results) >= 40


def _test_functions(path: Path) -> dict[str, bool]:
    """``{"test_x": is_slow, "Class::test_y": is_slow}`` for a test file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def slow(node: ast.AST, inherited: bool = False) -> bool:
        return inherited or any("mark.slow" in ast.unparse(d) for d in getattr(node, "decorator_list", []))

    module_slow = any(
        isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)
        and "mark.slow" in ast.unparse(node.value)
        for node in tree.body
    )
    found: dict[str, bool] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = slow(node, module_slow)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{node.name}::{item.name}"] = slow(item, slow(node, module_slow))
    return found


def test_every_test_the_promise_table_names_exists():
    before, _, after = split_doc(DOC.read_text(encoding="utf-8"))
    references = list(TEST_REFERENCE.finditer(before + after))
    assert len(references) >= 20, "the promise table should name the tests that check each promise"
    problems = []
    for ref in references:
        path = ROOT / "tests" / ref["file"]
        if not path.is_file():
            problems.append(f"tests/{ref['file']} does not exist")
            continue
        functions = _test_functions(path)
        if ref["name"] not in functions:
            problems.append(f"tests/{ref['file']} has no test {ref['name']!r}")
        elif functions[ref["name"]] != bool(ref["slow"]):
            problems.append(f"tests/{ref['file']}::{ref['name']} is {'' if functions[ref['name']] else 'not '}a slow "
                            f"test: write ' (slow)' after it exactly when it is")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- regenerate


def main(argv: Sequence[str]) -> int:
    if list(argv) != ["--write"]:
        print(f"usage: {WRITE_COMMAND}", file=sys.stderr)
        return 2
    with workspace() as tmp:
        for key, value in {"HF_HOME": str(tmp / "hf_home"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}.items():
            os.environ.setdefault(key, value)
        results = run_cases(build_cases(tmp), tmp)
    write_doc(render(results))
    print(f"wrote {len(results)} cases into {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
