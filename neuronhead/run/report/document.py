"""A report as plain data (sections of paragraphs, tables and figures) and its two renderings.

``report.md`` links the PNGs next to it; ``report.html`` embeds them as data URIs and carries its
own CSS, so the one file can be mailed or opened anywhere. Every text is escaped: tweets contain
``<``, ``&`` and ``|``.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Table:
    header: list[str]
    rows: list[list[object]]
    caption: str = ""


@dataclass
class Figure:
    path: Path
    caption: str


@dataclass
class Section:
    title: str
    blocks: list[str | Table | Figure] = field(default_factory=list)
    level: int = 2

    def add(self, *blocks: str | Table | Figure | None) -> Section:
        self.blocks += [b for b in blocks if b is not None]
        return self


@dataclass
class Document:
    title: str
    sections: list[Section] = field(default_factory=list)

    def section(self, title: str, level: int = 2) -> Section:
        self.sections.append(Section(title, level=level))
        return self.sections[-1]


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 1 or value == 0 else f"{value:.4f}"
    return "" if value is None else str(value)


def to_markdown(doc: Document, folder: str | os.PathLike) -> str:
    """Markdown with figure links relative to ``folder`` (where report.md is written)."""
    out = [f"# {doc.title}", ""]
    for sec in doc.sections:
        out += [f"{'#' * sec.level} {sec.title}", ""]
        for block in sec.blocks:
            if isinstance(block, Table):
                if block.caption:
                    out += [f"*{block.caption}*", ""]
                out.append("| " + " | ".join(_md(h) for h in block.header) + " |")
                out.append("|" + "---|" * len(block.header))
                out += ["| " + " | ".join(_md(_cell(v)) for v in row) + " |" for row in block.rows]
            elif isinstance(block, Figure):
                rel = os.path.relpath(block.path, folder)
                out.append(f"![{_md(block.caption)}]({rel})")
                out.append(f"*{_md(block.caption)}*")
            else:
                out.append(block)
            out.append("")
    return "\n".join(out)


def _md(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430;
       max-width: 1080px; margin: 2em auto; padding: 0 1.5em; }
h1 { font-size: 1.8em; border-bottom: 2px solid #3465a4; padding-bottom: .2em; }
h2 { font-size: 1.35em; margin-top: 1.8em; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.1em; margin-top: 1.2em; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .92em; }
th, td { border: 1px solid #d0d7de; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f6fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-style: italic; padding-bottom: .3em; }
figure { margin: 1em 0; display: inline-block; vertical-align: top; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .88em; color: #555; }
p.note { color: #555; }
"""


def to_html(doc: Document) -> str:
    """One self-contained HTML page: inline CSS, figures as base64 data URIs, no scripts."""
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(doc.title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{esc(doc.title)}</h1>",
    ]
    for i, sec in enumerate(doc.sections):
        out.append(f'<h{sec.level} id="s{i}">{esc(sec.title)}</h{sec.level}>')
        for block in sec.blocks:
            if isinstance(block, Table):
                out.append("<table>")
                if block.caption:
                    out.append(f"<caption>{esc(block.caption)}</caption>")
                out.append("<tr>" + "".join(f"<th>{esc(str(h))}</th>" for h in block.header) + "</tr>")
                for row in block.rows:
                    cells = []
                    for v in row:
                        cls = ' class="num"' if isinstance(v, int | float) and not isinstance(v, bool) else ""
                        cells.append(f"<td{cls}>{esc(_cell(v))}</td>")
                    out.append("<tr>" + "".join(cells) + "</tr>")
                out.append("</table>")
            elif isinstance(block, Figure):
                data = base64.b64encode(Path(block.path).read_bytes()).decode()
                out.append(
                    f'<figure><img alt="{esc(block.caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{esc(block.caption)}</figcaption></figure>"
                )
            else:
                out.append(f"<p>{_inline(block)}</p>")
    out.append("</body></html>")
    return "\n".join(out)


def _inline(text: str) -> str:
    """Escape, then turn markdown's `code` and **bold** into tags (the only markup the report uses)."""
    import re

    s = html.escape(text)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", s)
