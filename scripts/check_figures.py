"""Check the figures of the README's "Results" and of the benchmark pages against their raw JSON.

**The README.** docs/figures.toml lists every number of that section: a ``[[figure]]`` with the JSON
file and key path holding its value, a ``[[setup]]`` number (a seed or row count: an input, not a
result), or a ``[[missing]]`` figure whose measurement kept no raw JSON (listed, so the gap stays
visible). ``[[quoted]]`` entries are figures the docs quote and the README does not, checked the same
way. Fails, naming the line, when:

- a number in the section is in none of those lists;
- a figure's JSON value, rounded as the text is written, is not the text (a typo, or a re-run whose
  figures were not copied over);
- a listed figure no longer appears in the section, or not in the benchmarks (docs/benchmarks.md and
  the pages it lists under docs/benchmarks/, which hold each figure with its command; the index's
  "Notes without a reproducing command" do not count), or not in the other
  pages its ``also`` names (docs that quote it: a figure changed there fails too).

Numbers compare as written, thousands separators removed (1,002,000 = 1002000); signs are read from
the JSON, so "−0.22" in the text is listed as "-0.22".

**The benchmark pages** (docs/benchmarks.md and docs/benchmarks/*.md) check themselves, with no list
to keep: every number sits in a block, from a marker to the next marker or heading, that names its raw
JSON, or says it has none::

    <!-- figures: docs/data/cpu-2026-12-07/shift.json#topic docs/data/serve_load.json -->
    <!-- figures: none (2026-11-26, before raw JSON was kept) -->

(``file#key/key``: that part of the file; a marker may run over several lines; a file that is not JSON,
a console log, offers every number written in it.) Each number of a block's prose and tables must
equal, rounded as written, some number of its JSON: a value, a key, a numeric string or a list's
length, unsigned ("−0.22" and "+0.71" match -0.22 and 0.71), in its unit's scales (42% = 0.42; ms, min
and hours from seconds; GiB, MiB, GB and MB from bytes). A table cell is looked for only under the keys
its row's label and its column's header name, where they are keys of that JSON (the seven TweetEval
tasks, the models: a value from another row fails), and an interval written ``X [A, B]`` only in one
object holding all three. Not figures: code (fenced, indented, or in backticks), headings, a table's
header and each row's label (its first cell), link targets, paths, dates, names (L4, v2, GPT-2,
@0..5, 4f092c0), and whole numbers of one digit (counts and indices). Inside a block, more markers:

    <!-- setup: 5,000 20,000 (the sizes: inputs, not results) -->
    <!-- derived: 2.4 = 173.7 / 73.9; 27.1 = 141.74 - 114.63 -->
    <!-- none: 71.42 "tuned head" (why: figures, or every figure of a column, with no raw JSON) -->

A derived figure must equal its arithmetic (+ - × / and brackets), whose operands are figures of the
block, values of its JSON, or unit conversions (60, 100, 1000, 1024, 3600, 1e3, 1e6, 1e9). Fails,
naming the page and line, on a number outside any block, a figure its JSON does not hold (with the
nearest value), a derivation that does not give its figure, a named file or key that does not exist, a
malformed marker, a ``none`` without its reason, and a listed number no longer in its block. Prints the
coverage: blocks that name raw JSON and the figures found in it, derived, setup or listed as having
none; blocks without raw JSON, with their reasons and figures; and how often a figure 1 to 10 units of
its last digit off would still be found (what the check can miss).

    python3 scripts/check_figures.py [--readme README.md] [--benchmarks docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import ast
import bisect
import functools
import itertools
import json
import math
import operator
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTES = "## Notes without a reproducing command"  # the page's last section; its numbers don't count
NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])\d+(?:\.\d+)?")
MIN_SEC = re.compile(r"(\d+) min (\d+) s")


def numbers(text: str) -> list[str]:
    """Every number in ``text``, thousands separators removed; digits inside words (v2, L4) are not."""
    return [m.group(0).replace(",", "") for m in NUMBER.finditer(text)]


def results_section(readme: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of the README's ``## Results`` section."""
    lines = readme.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "## Results")
    except StopIteration:
        raise SystemExit("README has no '## Results' section") from None
    out = []
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("## "):
            break
        out.append((i + 1, lines[i]))
    return out


def json_value(root: Path, fig: dict) -> float:
    """The value ``fig`` names: its JSON key path, times ``scale``; ``op`` ratio divides by ``path2``."""
    doc = json.loads((root / fig["json"]).read_text(encoding="utf-8"))

    def at(path: list) -> float:
        node = doc
        for key in path:
            node = node[key]
        return float(node)

    value = at(fig["path"])
    if fig.get("op") == "ratio":
        value /= at(fig["path2"])
    return value * float(fig.get("scale", 1.0))


def matches(text: str, value: float) -> bool:
    """Whether ``value`` written as ``text`` is (``N min S s`` for seconds, else ``text``'s decimals)."""
    if m := MIN_SEC.fullmatch(text):
        return divmod(round(value), 60) == (int(m.group(1)), int(m.group(2)))
    decimals = len(text.split(".")[1]) if "." in text else 0
    return f"{value:.{decimals}f}" == text


def tokens(text: str) -> list[str]:
    """The number tokens of a listed text, unsigned, as :func:`numbers` finds them in a line."""
    return numbers(text.lstrip("-"))


def benchmark_text(index: Path) -> str:
    """The benchmarks: the index page up to its notes, then every page of its folder (``benchmarks/``)."""
    text = index.read_text(encoding="utf-8").split(f"\n{NOTES}\n")[0]
    return "\n".join([text] + [p.read_text(encoding="utf-8") for p in benchmark_pages(index)[1:]])


def check(readme: Path, benchmarks: Path, figures: Path | None = None, root: Path = ROOT) -> list[str]:
    """Problems, one line each (empty: every figure holds)."""
    figures = figures or root / "docs" / "figures.toml"
    listed = tomllib.loads(figures.read_text(encoding="utf-8"))
    page = benchmark_text(benchmarks)
    section = results_section(readme.read_text(encoding="utf-8"))
    in_section = {n for _, line in section for n in numbers(line)}
    entries = [f for kind in ("figure", "setup", "missing") for f in listed.get(kind, [])]
    known = {t for f in entries for t in tokens(f["text"])}
    problems = [
        f"{readme.name}:{lineno}: {n} is in none of {figures.name}'s lists: {line.strip()}"
        for lineno, line in section
        for n in numbers(line)
        if n not in known
    ]
    on_page = set(numbers(page))
    pinned = [(f, True) for f in listed.get("figure", [])] + [(f, False) for f in listed.get("quoted", [])]
    for fig, in_readme in pinned:
        text = fig["text"]
        if not matches(text, value := json_value(root, fig)):
            problems.append(f"{figures.name}: {text} is {value!r} in {fig['json']} {fig['path']}")
        for t in tokens(text):
            if in_readme and t not in in_section:
                problems.append(f"{figures.name}: {text} is no longer in {readme.name}'s Results")
            if t not in on_page:
                problems.append(f"{figures.name}: {text} is not in {benchmarks.name}")
        for page in fig.get("also", []):
            if not set(tokens(text)) <= set(numbers((root / page).read_text(encoding="utf-8"))):
                problems.append(f"{figures.name}: {text} is no longer in {page}")
    return problems


# --- The benchmark pages: every number in a block that names its raw JSON --------------------------

MARKER = re.compile(r"^\s*<!--\s*(figures|setup|derived|none):\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
PIPE = re.compile(r"(?<!\\)\|")
COMMENT = re.compile(r"\((?=[^()]*[A-Za-z]{2})[^()]*\)")  # (words) in a marker: why, not arithmetic
NOT_PROSE = re.compile(
    r"`[^`]*`"  # code spans: commands, flags, file and key names
    r"|\]\([^)]*\)"  # link targets
    r"|<!--.*?-->"  # comments
    r"|\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?"  # dates
    r"|[\w.~-]*[A-Za-z_][\w.~-]*/[\w./~-]*"  # paths (docs/data/…/x.json), and words like texts/s
)
FIGURE = re.compile(
    r"(?<![\w.#@/])(?<![A-Za-z_][-−])"  # not inside a word (v2, L4, GPT-2, 4f092c0), a path or a name (@0)
    r"(?P<n>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<e>e[-−+]?\d+)?"
    r"(?!\w)(?!\.\d)(?!\.\.)"  # nor a range (0..5)
    r"(?:\s?(?P<unit>%|×(?!\s?\d)|ms|s|min|minutes|hours?|GiB|MiB|GB|MB|KB)(?!\w))?"
)
# What a number with this unit may be in the JSON, as factors: a share (0.42 written 42%), seconds
# written in ms, minutes or hours, bytes (or MiB) written in GiB, MiB, GB or MB.
SCALES = {
    "%": (1, 100),
    "ms": (1, 1e3),
    "min": (1, 1 / 60),
    "minutes": (1, 1 / 60),
    "hour": (1, 1 / 3600),
    "hours": (1, 1 / 3600),
    "GiB": (1, 2**-30, 2**-10),
    "MiB": (1, 2**-20),
    "GB": (1, 1e-9),
    "MB": (1, 1e-6, 2**-20),
    "KB": (1, 1e-3, 2**-10),
}
ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
# Conversions a derived figure's arithmetic may use without their being in the JSON.
UNITS = {"60", "100", "1000", "1024", "3600", "1e3", "1e6", "1e9"}
NEAR = [k for k in range(-10, 11) if k]  # a wrong figure k units of its last digit off: would it pass?


@dataclass(frozen=True)
class Figure:
    """A number as a page writes it: ``text`` (unsigned, separators removed), its value, half its last
    written digit (what rounding as written allows), its unit, and, in a table, its row's label and its
    column's header (``anchors``)."""

    line: int
    text: str
    value: float
    half: float
    unit: str | None = None
    anchors: tuple[str, ...] = ()
    interval: int = 0  # X [A, B]: the same id on the three figures (0: none)


@dataclass
class Block:
    """A marked stretch of a page: from its ``<!-- figures: … -->`` to the next marker or heading."""

    page: str
    line: int
    sources: list[str]  # JSON files (``path#key/key``: that part of one); empty: ``none``
    why: str = ""
    setup: dict[str, int] = field(default_factory=dict)  # input numbers → the marker line that allows them
    unrecorded: dict[str, int] = field(default_factory=dict)  # figures or column headers without raw JSON
    derived: dict[str, tuple[str, int]] = field(default_factory=dict)  # figure → (arithmetic, line)
    figures: list[Figure] = field(default_factory=list)


def figures_in(line: str, lineno: int = 0, anchors: tuple[str, ...] = ()) -> list[Figure]:
    """The figures of a prose or table line: code spans, links, dates, paths, names (L4, v2, @0..5) and
    one-digit whole numbers (counts, indices) left out; ``N min S s`` is one figure, in seconds."""
    line = NOT_PROSE.sub(" ", line)
    out = [
        Figure(lineno, m.group(0), int(m.group(1)) * 60 + int(m.group(2)), 0.5, None, anchors)
        for m in MIN_SEC.finditer(line)
    ]
    rest = MIN_SEC.sub(" ", line)
    found = list(FIGURE.finditer(rest))
    groups = intervals(rest, found)
    for i, (m, after) in enumerate(zip(found, [*found[1:], None], strict=False)):
        digits, exp = m.group("n").replace(",", ""), (m.group("e") or "").replace("−", "-")
        if "." not in digits and not exp and len(digits) == 1:
            continue
        unit = m.group("unit")
        if not unit and after and rest[m.end() : after.start()] == "–":
            unit = after.group("unit")  # a range writes its unit once: 0.34–0.53%
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        scale = 10.0 ** int(exp[1:]) if exp else 1.0
        half = 0.5 * 10.0**-decimals * scale
        out.append(Figure(lineno, digits + exp, float(digits) * scale, half, unit, anchors, groups.get(i, 0)))
    return out


def intervals(text: str, found: list[re.Match]) -> dict[int, int]:
    """The figures written as an interval, ``X [A, B]``: their index in ``found`` → the interval's id."""
    groups = {}
    for i in range(len(found) - 2):
        x, a, b = found[i : i + 3]
        if (
            re.fullmatch(r"\s*\[\s*[+−-]?", text[x.end() : a.start()])
            and re.fullmatch(r",\s*[+−-]?", text[a.end() : b.start()])
            and text[b.end() :].lstrip().startswith("]")
        ):
            groups.update(dict.fromkeys((i, i + 1, i + 2), x.start() + 1))
    return groups


def label(cell: str) -> str:
    """A table cell as a JSON key would spell it: emphasis and code marks dropped."""
    return cell.replace("*", "").replace("`", "").strip()


def row_figures(line: str, lineno: int, header: list[str]) -> list[Figure]:
    """A table row's figures, each anchored to the row's label (its first cell, a name: not a figure)
    and its column's header."""
    cells = PIPE.split(line.strip())[1:-1]
    return [
        replace(fig, interval=fig.interval and fig.interval + 100_000 * i)  # one id space for the row
        for i, cell in enumerate(cells[1:], 1)
        for fig in figures_in(cell, lineno, (label(cells[0]), label(header[i]) if i < len(header) else ""))
    ]


def _marker(block: Block | None, kind: str, body: str, where: str) -> tuple[Block | None, list[str]]:
    """Apply a marker line to the page's current block; a ``figures`` marker opens a new one."""
    page, lineno = where.rsplit(":", 1)
    if kind == "figures":
        if body.startswith("none"):
            why = body[4:].strip().strip("()").strip()
            return Block(page, int(lineno), [], why), [] if why else [f"{where}: 'none' without (why)"]
        sources = COMMENT.sub(" ", body).split()
        return Block(page, int(lineno), sources), [] if sources else [f"{where}: figures: names no JSON"]
    if block is None:
        return None, [f"{where}: {kind}: outside a figures block"]
    if kind in ("setup", "none"):
        listed = block.setup if kind == "setup" else block.unrecorded
        columns = re.findall(r'"([^"]+)"', body)  # none: "a column" (why): every figure under that header
        listed.update(dict.fromkeys(columns, int(lineno)))
        for fig in figures_in(COMMENT.sub(" ", re.sub(r'"[^"]*"', " ", body))):
            listed[fig.text] = int(lineno)
        return block, [] if "(" in body else [f"{where}: {kind}: without (why)"]
    problems = []
    for entry in filter(None, (e.strip() for e in COMMENT.sub(" ", body).split(";"))):
        figure, _, arithmetic = entry.partition("=")
        figs = figures_in(figure)
        try:
            evaluate(arithmetic)
        except (SyntaxError, ValueError, ZeroDivisionError):
            figs = []
        if len(figs) != 1:
            problems.append(f"{where}: derived: '{entry}' is not 'FIGURE = ARITHMETIC'")
        else:
            block.derived[figs[0].text] = (arithmetic.strip(), int(lineno))
    return block, problems


def prose(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a page outside code (fenced, or indented after a blank line); a comment
    over several lines comes as one line."""
    fenced, indented, blank, opened = False, False, True, None
    for lineno, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line) or fenced:
            fenced = fenced != bool(FENCE.match(line))
        elif opened:
            opened = (opened[0], f"{opened[1]} {line.strip()}")
            if "-->" in line:
                yield opened
                opened = None
        elif not line.strip():
            blank = True
            yield lineno, ""
        else:
            indented = line.startswith("    ") and not line.lstrip().startswith("|") and (blank or indented)
            blank = False
            if line.lstrip().startswith("<!--") and "-->" not in line:
                opened = (lineno, line.strip())
            elif not indented:
                yield lineno, line


def scan(text: str, page: str) -> tuple[list[Block], list[Figure], list[str]]:
    """A page's blocks, the figures outside any block, and malformed markers. Code, headings and a
    table's header hold no figures; a heading ends a block."""
    blocks, loose, problems = [], [], []
    block, header = None, None
    for lineno, line in prose(text):
        if m := MARKER.match(line):
            opened, found = _marker(block, m.group(1), m.group(2), f"{page}:{lineno}")
            problems += found
            if m.group(1) == "figures":
                blocks.append(block := opened)
            continue
        if line.startswith("#"):
            block, header = None, None
            continue
        if not line.lstrip().startswith("|"):
            header, figs = None, figures_in(line, lineno)
        elif header is None:
            header, figs = PIPE.split(line.strip())[1:-1], []
        else:
            figs = row_figures(line, lineno, header) if line.strip("|-: \t") else []
        (block.figures if block else loose).extend(figs)
    return blocks, loose, problems


@functools.cache
def _json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


Leaf = tuple[float, frozenset[str], int]  # a number, the keys on its path, the object that holds it


def leaves(node: object, keys: frozenset[str] = frozenset(), owner: int = 0) -> list[Leaf]:
    """Every number under ``node`` (values, keys or strings that are numbers, as ``"20000"``, and the
    length of each list), unsigned, with the keys of the objects and lists on its path and the object or
    list holding it."""
    if isinstance(node, dict):
        return [
            leaf
            for k, child in node.items()
            for leaf in leaves(k, keys, id(node))
            + leaves(child, keys | {k} if isinstance(child, dict | list) else keys, id(node))
        ]
    if isinstance(node, list):  # its length too: "all 25 shards"
        return [(float(len(node)), keys, id(node))] + [
            leaf for child in node for leaf in leaves(child, keys, id(node))
        ]
    if isinstance(node, str):
        try:
            node = float(node)
        except ValueError:
            return []
    if isinstance(node, bool) or not isinstance(node, int | float) or not math.isfinite(node):
        return []
    return [(abs(float(node)), keys, owner)]


class Raw:
    """The numbers of the JSON a block names. A figure anchored to labels that are keys there (a table
    row's and column's) is looked for only under those keys; an interval, ``X [A, B]``, only in one
    object."""

    def __init__(self, found: list[Leaf]):
        self.found = found
        self.keys = {k for _, keys, _ in found for k in keys}
        self.cache: dict[tuple[str, ...], list[float]] = {}
        self.objects: dict[int, list[float]] = {}
        self.paths: dict[int, frozenset[str]] = {}
        for value, path, owner in found:
            self.objects.setdefault(owner, []).append(value)
            self.paths[owner] = path
        for values in self.objects.values():
            values.sort()

    def values(self, anchors: tuple[str, ...] = ()) -> list[float]:
        keys = tuple(a for a in anchors if a in self.keys)
        if keys not in self.cache:
            self.cache[keys] = sorted(v for v, path, _ in self.found if path.issuperset(keys))
        return self.cache[keys]

    def together(self, figs: list[Figure]) -> bool:
        """Whether one object holds every figure of ``figs`` (under their anchors), each in its own value."""
        keys = {a for f in figs for a in f.anchors if a in self.keys}
        return any(
            any(len(set(pick)) == len(figs) for pick in itertools.product(*(where(values, f) for f in figs)))
            for owner, values in self.objects.items()
            if owner and self.paths[owner] >= keys
        )


def load(block: Block, root: Path) -> tuple[Raw, list[str]]:
    """The numbers of the JSON files a block names (``path#key/key``: that part of it), and what is
    missing: a file, or a key."""
    found, missing = [], []
    for source in block.sources:
        rel, _, keys = source.partition("#")
        if not (root / rel).is_file():
            missing.append(f"{block.page}:{block.line}: {rel} does not exist")
            continue
        if not rel.endswith(".json"):  # a raw log: every number in it, no keys
            text = (root / rel).read_text(encoding="utf-8")
            found += [
                (abs(float(n)), frozenset(), 0) for n in re.findall(r"\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)
            ]
            continue
        node = _json((root / rel).resolve())
        for key in filter(None, keys.split("/")):
            if not isinstance(node, dict) or key not in node:
                missing.append(f"{block.page}:{block.line}: {source}: no key '{key}'")
                break
            node = node[key]
        else:
            found += leaves(node)
    return Raw(found), missing


def where(values: list[float], fig: Figure) -> list[int]:
    """The indices of the sorted ``values`` that round as written to ``fig`` (unsigned, in its unit)."""
    target, slack = abs(fig.value), fig.half * (1 + 1e-9) + 1e-12
    found = []
    for scale in SCALES.get(fig.unit or "", (1,)):
        i = bisect.bisect_left(values, (target - slack) / scale)
        while i < len(values) and values[i] <= (target + slack) / scale:
            found.append(i)
            i += 1
    return found


def held(values: list[float], value: float, half: float, unit: str | None = None) -> bool:
    """Whether some value, in one of the unit's scales, rounds as written to ``value`` (unsigned)."""
    target, slack = abs(value), half * (1 + 1e-9) + 1e-12
    for scale in SCALES.get(unit or "", (1,)):
        i = bisect.bisect_left(values, (target - slack) / scale)
        if i < len(values) and values[i] <= (target + slack) / scale:
            return True
    return False


def evaluate(arithmetic: str) -> float:
    """The value of a derived figure's arithmetic (numbers, + − × / and brackets; ``14,200`` = 14200)."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", arithmetic.strip()).replace("×", "*").replace("−", "-")

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
            return ARITHMETIC[type(node.op)](ev(node.left), ev(node.right))
        raise ValueError(f"not arithmetic: {arithmetic}")

    return ev(ast.parse(text, mode="eval").body)


def _missed(block: Block, raw: Raw, fig: Figure) -> str:
    """Why ``fig`` failed: what the JSON holds nearest it, and whether it is there outside its anchors."""
    values = raw.values(fig.anchors)
    nearest = min(values, key=lambda v: abs(v - abs(fig.value)), default=math.nan)
    under = [a for a in fig.anchors if a in raw.keys]
    where, unit = f" under {under}" if under else "", f" {fig.unit}" if fig.unit else ""
    elsewhere = (
        "; it is elsewhere in them" if under and held(raw.values(), fig.value, fig.half, fig.unit) else ""
    )
    return (
        f"{block.page}:{fig.line}: {fig.text}{unit} is not in the JSON named at "
        f"line {block.line}{where} (nearest {nearest:.6g}{elsewhere})"
    )


def _listed(block: Block, raw: Raw) -> list[str]:
    """Problems of a block's lists: a setup, ``none`` or derived figure no longer in the block, and an
    operand of a derivation that is neither a figure of the block, a value of its JSON nor a unit."""
    written = {f.text for f in block.figures} | {f.anchors[1] for f in block.figures if len(f.anchors) > 1}
    operands = {text: figures_in(arithmetic) for text, (arithmetic, _) in block.derived.items()}
    used = written | {op.text for ops in operands.values() for op in ops}
    derived = {text: line for text, (_, line) in block.derived.items()}
    problems = [
        f"{block.page}:{n}: {kind}: {t} is not in its block"
        for kind, listed in (("setup", block.setup), ("none", block.unrecorded), ("derived", derived))
        for t, n in listed.items()
        if t not in used
    ]
    allowed = written | UNITS | set(block.setup) | set(block.derived)
    for text, ops in operands.items():
        problems += [
            f"{block.page}:{block.derived[text][1]}: {op.text}, in the arithmetic of {text}: not in the JSON"
            for op in ops
            if op.text not in allowed and not held(raw.values(), op.value, op.half)
        ]
    return problems


def skipped(block: Block, fig: Figure) -> bool:
    """Whether ``fig`` is a setup number, or listed (by itself or by its column) as having no raw JSON."""
    listed = {*block.setup, *block.unrecorded}
    return fig.text in listed or (len(fig.anchors) > 1 and fig.anchors[1] in block.unrecorded)


def check_block(block: Block, raw: Raw) -> tuple[list[str], list[float]]:
    """A block's problems, and for each figure found in the JSON the share of near, wrong figures (1 to
    10 units of its last digit off) that would have been found too: how much the check can miss."""
    problems, near, found = _listed(block, raw), [], {}
    for fig in block.figures:
        if skipped(block, fig):
            continue
        if fig.text in block.derived:
            value = evaluate(block.derived[fig.text][0])
            if abs(abs(value) - abs(fig.value)) > fig.half * (1 + 1e-9):
                problems.append(f"{block.page}:{fig.line}: {fig.text} is {value:.6g} by its derivation")
            continue
        values = raw.values(fig.anchors)
        if not held(values, fig.value, fig.half, fig.unit):
            problems.append(_missed(block, raw, fig))
            continue
        probes = [abs(fig.value) + 2 * k * fig.half for k in NEAR]
        near.append(sum(held(values, p, fig.half, fig.unit) for p in probes if p > 0) / len(probes))
        if fig.interval:
            found.setdefault((fig.line, fig.interval), []).append(fig)
    for (line, _), figs in found.items():
        if len(figs) == 3 and not raw.together(figs):
            x, a, b = (f.text for f in figs)
            problems.append(
                f"{block.page}:{line}: {x} [{a}, {b}] is not one interval: no one object holds all three"
            )
    return problems, near


@dataclass
class Coverage:
    """What the page check covered, counted in figures (a number each time it is written)."""

    blocks: int = 0  # blocks that name raw JSON
    found: int = 0  # their figures found in it
    derived: int = 0  # their figures checked by stated arithmetic
    setup: int = 0  # their setup numbers
    listed: int = 0  # their figures listed (or in a column listed) as having no raw JSON
    none: list[str] = field(default_factory=list)  # blocks without raw JSON: "page:line: why (N figures)"
    in_none: int = 0  # figures in those
    near: list[float] = field(default_factory=list)

    def add(self, block: Block, near: list[float]) -> None:
        if not block.sources:
            self.none.append(f"{block.page}:{block.line}: {block.why} ({len(block.figures)} figures)")
            self.in_none += len(block.figures)
            return
        self.blocks, self.found, self.near = self.blocks + 1, self.found + len(near), self.near + near
        self.setup += sum(f.text in block.setup for f in block.figures)
        self.listed += sum(skipped(block, f) and f.text not in block.setup for f in block.figures)
        self.derived += sum(f.text in block.derived and not skipped(block, f) for f in block.figures)

    def summary(self) -> str:
        miss = 100 * sum(self.near) / max(len(self.near), 1)
        return (
            f"benchmark pages: {self.blocks} blocks name their raw JSON: {self.found} figures found in it, "
            f"{self.derived} derived by stated arithmetic, {self.setup} setup numbers, {self.listed} figures "
            f"listed as having no raw JSON; {len(self.none)} blocks have none ({self.in_none} figures). A "
            f"figure 1 to 10 units of its last digit off would still be found in {miss:.0f}% of cases."
        )


def page_name(page: Path, root: Path) -> str:
    try:
        return str(page.resolve().relative_to(root.resolve()))
    except ValueError:
        return f"{page.parent.name}/{page.name}"


def benchmark_pages(index: Path) -> list[Path]:
    """The benchmarks index and the pages of its folder (``docs/benchmarks.md``, ``docs/benchmarks/``)."""
    return [index, *sorted(index.with_suffix("").glob("*.md"))]


def check_pages(pages: list[Path], root: Path = ROOT) -> tuple[list[str], Coverage]:
    """Problems of the benchmark pages (a number outside a block, a malformed marker, a JSON file or key
    missing, a figure its JSON does not hold, a derivation that does not give its figure), and what was
    covered."""
    problems, cov = [], Coverage()
    for page in pages:
        name = page_name(page, root)
        blocks, loose, found = scan(page.read_text(encoding="utf-8"), name)
        problems += found
        problems += [f"{name}:{f.line}: {f.text} is outside any '<!-- figures: -->' block" for f in loose]
        for block in blocks:
            raw, missing = load(block, root) if block.sources else (None, [])
            found, near = check_block(block, raw) if block.sources and not missing else (missing, [])
            problems += found
            cov.add(block, near)
    return problems, cov


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--benchmarks", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = ap.parse_args()
    problems = check(args.readme, args.benchmarks)
    found, cov = check_pages(benchmark_pages(args.benchmarks))
    for p in problems + found:
        print(p, file=sys.stderr)
    missing = tomllib.loads((ROOT / "docs" / "figures.toml").read_text(encoding="utf-8")).get("missing", [])
    for m in missing:
        print(f"no raw JSON: {m['text']} ({m['why']})", file=sys.stderr)
    print(cov.summary())
    for block in cov.none:
        print(f"  no raw JSON: {block}")
    return 1 if problems or found else 0


if __name__ == "__main__":
    sys.exit(main())
