"""Each formula of the core is written once: no scalar/vector pair of the same formula comes back.

The core once had every shape twice, a float ``_main`` and a numpy ``_main_v`` (and
``_warm``/``_warm_v``, ``warmup_factor``/``warmup_factors``, ``int_power``/``int_powers``);
now each is written once over an array namespace (:data:`hf_sched.schedule.SCALAR` or
numpy). This test reads the core modules' source and finds (1) pairs of functions named
``f`` and ``f_v`` / ``fs`` / ``f_vec`` that both compute (hold arithmetic), and (2) any two
functions whose bodies are the same once ``math.``, ``np.`` and ``xp.`` are read alike.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = ["schedule", "decays", "inverse_sqrt", "step_decays", "cycles", "compose", "schedules", "warmup", "registry",
        "catalog", "budget", "checks", "lr_scheduler", "group_steps", "warmup_scheduler"]
PACKAGE = Path(__file__).resolve().parents[1] / "hf_sched"
NAMESPACES = {"math", "np", "numpy", "xp", "SCALAR"}


def functions(path: Path) -> dict[str, ast.FunctionDef]:
    """``qualified name -> def`` for every function and method of a module."""
    out = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    out[f"{node.name}.{item.name}"] = item
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = node
    return out


ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.FloorDiv, ast.Mod)


def computes(fn: ast.FunctionDef) -> bool:
    """Whether ``fn`` does arithmetic (a formula), not only checks and dispatch."""
    return any(isinstance(n, ast.BinOp) and isinstance(n.op, ARITHMETIC) for n in ast.walk(fn))


class _Unify(ast.NodeTransformer):
    """``np.cos`` / ``math.cos`` / ``xp.cos`` -> ``cos``; names of the function itself dropped."""

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id in NAMESPACES:
            return ast.Name(id=node.attr, ctx=node.ctx)
        return self.generic_visit(node)


def body_key(fn: ast.FunctionDef) -> str:
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]  # no docstring
    body = [s for s in body if not isinstance(s, (ast.Import, ast.ImportFrom))]
    return ast.dump(_Unify().visit(ast.Module(body=body, type_ignores=[])))


def pairs(defs: dict[str, ast.FunctionDef]) -> list[tuple[str, str]]:
    found = []
    for name in defs:
        for suffix in ("_v", "s", "_vec", "_vector", "_array"):
            other = name + suffix
            if other in defs and computes(defs[name]) and computes(defs[other]):
                found.append((name, other))
    return found


@pytest.mark.parametrize("module", CORE)
def test_no_scalar_vector_pair_of_one_formula(module):
    defs = functions(PACKAGE / f"{module}.py")
    assert not pairs(defs), f"hf_sched/{module}.py writes a formula twice: {pairs(defs)}"


def test_no_two_functions_of_the_core_have_the_same_body():
    seen: dict[str, str] = {}
    twice = []
    for module in CORE:
        for name, fn in functions(PACKAGE / f"{module}.py").items():
            if not computes(fn) or len(fn.body) < 2:
                continue
            key = body_key(fn)
            if key in seen:
                twice.append((seen[key], f"{module}.{name}"))
            seen.setdefault(key, f"{module}.{name}")
    assert not twice, f"the same formula written twice: {twice}"


def test_the_finder_finds_the_old_pairs():
    old = ast.parse(
        "class Cosine:\n"
        "    def _main(self, s):\n        return 0.5 * (1 + math.cos(math.pi * s))\n"
        "    def _main_v(self, s):\n        import numpy as np\n        return 0.5 * (1 + np.cos(math.pi * s))\n"
    )
    defs = {f"Cosine.{f.name}": f for f in old.body[0].body}
    assert pairs(defs) == [("Cosine._main", "Cosine._main_v")]
    assert body_key(defs["Cosine._main"]) == body_key(defs["Cosine._main_v"])
