"""The house's size rules: no function over 80 lines or 8 parameters (an estimator's constructor,
whose parameters are its public settings, excepted), so every function fits on a screen."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "neuronhead"
MAX_LINES, MAX_PARAMS = 80, 8
ESTIMATOR_BASES = {"Params"}  # heads.params.Params: sklearn-style, every __init__ argument a setting


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    named = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg not in ("self", "cls")]
    return len(named) + bool(a.vararg) + bool(a.kwarg)


def too_big(source: str, where: str) -> list[str]:
    """Each function of ``source`` over the limits, as ``where:line name (lines, parameters)``."""
    tree = ast.parse(source)
    estimators = {
        id(item)
        for cls in ast.walk(tree)
        if isinstance(cls, ast.ClassDef)
        and {getattr(b, "id", getattr(b, "attr", None)) for b in cls.bases} & ESTIMATOR_BASES
        for item in cls.body
        if isinstance(item, ast.FunctionDef) and item.name == "__init__"
    }
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and id(fn) not in estimators:
            lines, params = fn.end_lineno - fn.lineno + 1, _params(fn)
            if lines > MAX_LINES or params > MAX_PARAMS:
                found.append(f"{where}:{fn.lineno} {fn.name} ({lines} lines, {params} parameters)")
    return found


def test_no_function_is_over_80_lines_or_8_parameters():
    found = [
        problem
        for path in sorted(PACKAGE.rglob("*.py"))
        for problem in too_big(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    ]
    assert found == []


def test_a_planted_long_function_and_a_wide_one_are_named():
    body = "\n".join(f"    x{i} = {i}" for i in range(81))
    source = f"def long():\n{body}\n\ndef wide(a, b, c, d, e, f, g, h, i):\n    pass\n"
    found = too_big(source, "m.py")
    assert [f.split(" ")[1] for f in found] == ["long", "wide"]
    estimator = "class H(Params):\n    def __init__(self, a, b, c, d, e, f, g, h, i):\n        pass\n"
    assert too_big(estimator, "m.py") == []
