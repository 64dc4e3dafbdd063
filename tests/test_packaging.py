"""What a package index and a user with other versions see: metadata, links, license, bounds.

The wheel itself is built, checked with ``twine check`` and installed into a fresh venv by
``.ci/wheel_check`` (run by ``.ci/run``); the floor set by ``.ci/floor_job``. Here: that the
README's links work on an index page, that the package says it is typed and licensed, and
that ``.ci/floor.txt`` (what the floor job installs) holds every dependency at exactly the
lower bound pyproject.toml declares, so a declared bound is always a tested one.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
LINK = re.compile(r"(!?)\[[^\]]*\]\(([^)\s]+)\)")


# Extras outside ".[dev]", so outside the floor set: each is tested at the one version it names.
OUTSIDE_FLOOR = {
    "deepspeed": "its own venv (a C++ build), tested at this one version: docs/versions.md",
    "lint": "ruff and mypy, pinned exactly and run by the newest job of .ci/run",
}


def _requirements() -> list[Requirement]:
    """Every requirement of the project and its extras in the floor set, except its own extras (hf_sched[...])."""
    extras = PROJECT["optional-dependencies"]
    lines = [*PROJECT["dependencies"], *(r for name, reqs in extras.items() if name not in OUTSIDE_FLOOR for r in reqs)]
    return [req for req in map(Requirement, lines) if req.name != PROJECT["name"]]


def _lower_bound(req: Requirement) -> str | None:
    bounds = [spec.version for spec in req.specifier if spec.operator in (">=", "==")]
    return bounds[0] if len(bounds) == 1 else None


def _floor_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / ".ci" / "floor.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_readme_links_are_absolute_so_they_work_on_an_index_page():
    repo = PROJECT["urls"]["Repository"]
    raw = repo.replace("https://github.com/", "https://raw.githubusercontent.com/") + "/main/"
    readme = (ROOT / "README.md").read_text()
    links = LINK.findall(readme)
    assert len(links) >= 10
    relative = [target for _, target in links if not re.match(r"(https?:|mailto:|#)", target)]
    assert not relative, f"relative links break on a package index page: {relative}"
    for image, target in links:
        if image:  # an image must be served raw, from this repository
            assert target.startswith(raw), target
            path = target[len(raw):]
        elif target.startswith(repo + "/blob/main/"):
            path = target[len(repo + "/blob/main/"):].split("#")[0]
        else:
            continue
        assert (ROOT / path).is_file(), f"the README links to {path}, which the repository does not hold"


def test_license_typed_marker_and_classifiers():
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"] and "END OF TERMS AND CONDITIONS" in text
    assert (ROOT / "hf_sched" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["hf_sched"]
    assert "Typing :: Typed" in PROJECT["classifiers"]
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"])  # PEP 639: the expression says it
    assert {"Homepage", "Repository", "Documentation", "Issues"} <= set(PROJECT["urls"])


def test_every_dependency_has_a_lower_bound():
    extras = [Requirement(r) for name in OUTSIDE_FLOOR for r in PROJECT["optional-dependencies"][name]]
    extras = [req for req in extras if req.name != PROJECT["name"]]
    unbounded = [str(req) for req in [*_requirements(), *extras] if _lower_bound(req) is None]
    assert not unbounded, f"dependencies without one lower bound (>= or ==): {unbounded}"


def test_the_floor_set_is_the_declared_lower_bounds():
    """.ci/floor.txt pins each dependency at its bound: the floor job tests the bounds themselves."""
    pins = _floor_pins()
    wrong = {}
    for req in _requirements():
        name = req.name.lower().replace("_", "-")
        if name == "torch":  # CI has only the CPU wheel of torch 2.13.0 (see docs/versions.md)
            assert pins[name] == "2.13.0"
            continue
        bound, pin = _lower_bound(req), pins.get(name)
        if pin is None or bound is None or Version(pin) != Version(bound):
            wrong[name] = (str(req), pins.get(name))
    assert not wrong, f"regenerate .ci/floor.txt with .ci/make_floor, or raise these bounds: {wrong}"
