"""Imports point one way: a room of the package imports only its own modules and rooms on lower floors.

The floors are the README's "Layout" (and ``../shared/ARCHITECTURE.md``). Imports inside functions
count too, so an arrow cannot hide from this test by being lazy, and no private name (``_x``) is
imported from another room. A new room must be given a floor here.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "neuronhead"

FLOORS = {
    "version": 0,
    "lazy": 0,
    "manifests": 0,  # the typed records of a job folder (manifest.json)
    "spine": 0,  # options declared once: dataclass fields → flags, config keys, docs/cli.md
    "models": 1,
    "store": 1,
    "tweets": 1,
    "cluster": 1,
    "plotting": 1,
    "data": 2,
    "synthetic": 2,
    "evaluation": 3,  # metrics, bootstrap intervals, topic-held-out folds: what judges a model
    "heads": 4,  # the estimators and their files
    "fitting": 5,  # choosing and fitting them: selection, streaming from the store, Ray Train
    "pipelines": 6,
    "tune": 7,
    "analyze": 7,
    "serve": 7,
    "run": 8,
    "cli": 9,
    "neuronhead": 10,  # the package's face: neuronhead.load hands on a predictor
}


def room_of(module: str) -> str:
    """``neuronhead.fitting.train`` → ``heads``; ``neuronhead`` → ``neuronhead``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_of(path: Path, package: Path) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts[:-1]) if rel.name == "__init__" else list(rel.parts)
    return ".".join(parts)


def imports_of(path: Path, package: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) for every import of the package in ``path``, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == package.name]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                here = module_of(path, package).split(".")
                base = here[: len(here) - node.level + (path.name == "__init__.py")]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == package.name:
                found.append((node.lineno, target, [a.name for a in node.names]))
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")  # __version__ is public


def violations(package: Path) -> list[str]:
    """Every import that runs back up, goes sideways between rooms, reaches a room without a floor,
    or takes a private name from another room."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        here = room_of(module_of(path, package))
        where = path.relative_to(package.parent)
        if here not in FLOORS:
            problems.append(f"{where}: room {here!r} has no floor in tests/test_imports.py")
            continue
        for line, target, names in imports_of(path, package):
            there = room_of(target)
            if there == here:
                continue
            if there not in FLOORS:
                problems.append(f"{where}:{line} imports {target}, a room without a floor")
            elif FLOORS[there] >= FLOORS[here]:
                problems.append(
                    f"{where}:{line} imports {target}: {here} (floor {FLOORS[here]}) may not import "
                    f"{there} (floor {FLOORS[there]})"
                )
            problems += [
                f"{where}:{line} imports the private {n} from {target}" for n in names if _private(n)
            ]
    return problems


def test_imports_point_one_way():
    assert violations(PACKAGE) == []


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "neuronhead"
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def plant(copy: Path, file: str, line: str) -> None:
    path = copy / file
    path.write_text(path.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")


def test_a_planted_back_edge_fails(copy: Path):
    plant(copy, "store.py", "def _late():\n    from neuronhead.run.job import run")
    found = violations(copy)
    assert len(found) == 1
    assert (
        found[0].startswith("neuronhead/store.py:")
        and "store (floor 1) may not import run (floor 8)" in found[0]
    )


def test_a_sideways_edge_and_a_private_name_fail(copy: Path):
    plant(copy, "tune/trial.py", "from neuronhead.analyze.counts import NO_DATE")
    plant(copy, "pipelines/scoring.py", "from ..fitting.train import _hold_out")
    found = violations(copy)
    assert any("tune (floor 7) may not import analyze (floor 7)" in f for f in found), found
    assert any("imports the private _hold_out from neuronhead.fitting.train" in f for f in found), found


def test_a_new_room_needs_a_floor(copy: Path):
    (copy / "gateway").mkdir()
    (copy / "gateway" / "__init__.py").write_text("")
    assert violations(copy) == [
        "neuronhead/gateway/__init__.py: room 'gateway' has no floor in tests/test_imports.py"
    ]


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_packages_import_their_names_on_first_use():
    """``neuronhead.models`` and ``neuronhead.pipelines`` alone import no torch (a tokenize worker
    imports them); their names still resolve, whichever module was imported first."""
    light = "import sys, neuronhead.models, neuronhead.pipelines; print('torch' in sys.modules)"
    assert _fresh(light) == "False"
    code = (
        "import neuronhead.pipelines.scoring, neuronhead.pipelines.extraction\n"  # the modules first
        "from neuronhead.pipelines import extract, score, HeadSet, Capture\n"
        "from neuronhead.models import HookedModel, tokenize\n"
        "names = (extract, score, tokenize)\n"
        "print(all(callable(f) and not isinstance(f, type(neuronhead)) for f in names))\n"
    )
    assert _fresh(code) == "True"
    unknown = subprocess.run(
        [sys.executable, "-c", "import neuronhead.pipelines as p; p.nothing"], capture_output=True, text=True
    )
    assert unknown.returncode != 0 and "has no attribute 'nothing'" in unknown.stderr
