"""The house: no import circle anywhere in hf_sched/, and an explicit ``__all__`` in every public module.

Imports are read from the source (``ast``), wherever they stand: module level, inside
functions, under ``if TYPE_CHECKING``; relative and absolute; ``importlib.import_module``
with a constant name; and ``from hf_sched import NAME`` through the package's lazy
``_LAZY`` table (name -> module imported on first use).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "hf_sched"


def find_modules(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under ``package_dir``."""
    root = package_dir.parent
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _lazy_table(tree: ast.Module) -> dict[str, str]:
    """The ``_LAZY = {name: module}`` literal of a package ``__init__``, if any."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (any import, anywhere in the file)."""
    modules = find_modules(package_dir)
    trees = {name: ast.parse(path.read_text(), filename=str(path)) for name, path in modules.items()}
    lazy = {name: _lazy_table(tree) for name, tree in trees.items() if modules[name].name == "__init__.py"}

    def package_of(name: str) -> str:
        return name if modules[name].name == "__init__.py" else name.rpartition(".")[0]

    def resolve(current: str, module: str | None, level: int) -> str:
        if not level:
            return module or ""
        base = package_of(current)
        for _ in range(level - 1):
            base = base.rpartition(".")[0]
        return f"{base}.{module}" if module else base

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, tree in trees.items():
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                source = resolve(name, node.module, node.level)
                for alias in node.names:
                    if f"{source}.{alias.name}" in modules:  # from . import catalog
                        targets.add(f"{source}.{alias.name}")
                        continue
                    targets.add(source)
                    if alias.name in lazy.get(source, {}):  # from hf_sched import get_scheduler
                        targets.add(resolve(source, lazy[source][alias.name], 1))
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                text = node.args[0].value
                level = len(text) - len(text.lstrip("."))
                targets.add(resolve(name, text.lstrip(".") or None, level))
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules, each as one circle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    circles = []
    for group in groups:
        # one concrete circle through the group's first module, by breadth-first search
        start, members = group[0], set(group)
        paths = {start: [start]}
        frontier = [start]
        found = None
        while frontier and found is None:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v] & members):
                    if w == start:
                        found = paths[v] + [start]
                        break
                    if w not in paths:
                        paths[w] = paths[v] + [w]
                        nxt.append(w)
                if found:
                    break
            frontier = nxt
        circles.append(found or group)
    return circles


def test_no_import_circle_in_hf_sched():
    graph = import_graph(PACKAGE_DIR)
    assert len(graph) > 10 and graph["hf_sched.schedules"], "the graph should see the package's modules and imports"
    circles = find_circles(graph)
    assert not circles, "import circles in hf_sched/:\n" + "\n".join(" -> ".join(c) for c in circles)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


@pytest.mark.parametrize("files, circle", [
    # module level, relative
    ({"pkg/__init__.py": "", "pkg/a.py": "from .b import x\n", "pkg/b.py": "from .a import y\n"}, ["pkg.a", "pkg.b"]),
    # inside a function, absolute, through a third module
    ({"pkg/__init__.py": "", "pkg/a.py": "def f():\n    import pkg.b\n", "pkg/b.py": "from pkg import c\n",
      "pkg/c.py": "from . import a\n"}, ["pkg.a", "pkg.b", "pkg.c"]),
    # under TYPE_CHECKING, two levels up from a subpackage
    ({"pkg/__init__.py": "", "pkg/a.py": "from .sub.d import z\n", "pkg/sub/__init__.py": "",
      "pkg/sub/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import y\n"}, ["pkg.a", "pkg.sub.d"]),
    # the package's lazy table, and importlib with a constant name
    ({"pkg/__init__.py": "_LAZY = {'thing': 'b'}\n", "pkg/a.py": "from pkg import thing\n",
      "pkg/b.py": "import importlib\nm = importlib.import_module('.a', __package__)\n"}, ["pkg.a", "pkg.b"]),
])
def test_the_circle_finder_finds_every_kind_of_circle(tmp_path, files, circle):
    graph = import_graph(_write(tmp_path, files))
    circles = find_circles(graph)
    assert len(circles) == 1 and sorted(set(circles[0])) == circle and circles[0][0] == circles[0][-1]


def test_the_circle_finder_sees_no_circle_in_a_layered_package(tmp_path):
    files = {"pkg/__init__.py": "", "pkg/base.py": "import math\n", "pkg/shapes.py": "from .base import B\n",
             "pkg/index.py": "from .shapes import S\nfrom .base import B\n", "pkg/user.py": "def f():\n    from .index import S\n"}
    graph = import_graph(_write(tmp_path, files))
    assert graph["pkg.index"] == {"pkg.shapes", "pkg.base"} and graph["pkg.user"] == {"pkg.index"}
    assert find_circles(graph) == []


def _public_modules() -> list[tuple[str, Path]]:
    return [
        (name, path)
        for name, path in find_modules(PACKAGE_DIR).items()
        if not any(part.startswith("_") for part in name.split("."))
    ]


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


@pytest.mark.parametrize("name, path", _public_modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_public_module_has_an_explicit_all(name, path):
    tree = ast.parse(path.read_text())
    assigned = [
        node for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        and any(isinstance(t, ast.Name) and t.id == "__all__"
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))
    ]
    assert assigned, f"{path.relative_to(PACKAGE_DIR.parent)} has no module-level __all__"
    value = assigned[-1].value
    if isinstance(value, (ast.List, ast.Tuple)):  # a literal: every name must exist in the module
        listed = [ast.literal_eval(e) for e in value.elts]
        assert all(isinstance(n, str) for n in listed), f"{name}.__all__ holds a non-string"
        missing = sorted(set(listed) - _top_level_names(tree))
        assert not missing, f"{name}.__all__ lists names the module does not define: {missing}"


def test_the_pure_modules_import_no_torch_numpy_or_transformers():
    import subprocess
    import sys

    code = (
        "import sys, hf_sched, hf_sched.schedules, hf_sched.registry, hf_sched.catalog, hf_sched.schedule;"
        "hf_sched.schedules.schedule_from_dict(hf_sched.schedules.Cosine(10, 2).to_dict())(3);"
        "print(sorted(m for m in ('torch', 'numpy', 'transformers', 'accelerate') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
