"""Markdown table of head vs baselines from the report.json of `neuronhead fit --baselines` runs.

.venv/bin/python bench/heads_table.py runs/tasks/*/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from neuronhead.evaluation.metrics import headline


def row(folder: Path) -> str:
    r = json.loads((folder / "report.json").read_text())
    m = r["metric"]
    b = r.get("baselines", {})

    def f(x: dict | None) -> str:
        return "–" if not x else f"{headline(x, m):.2f}" if m not in ("mse", "mae") else f"{x[m]:.3f}"

    best = max(b.get("per_layer_probes", {}).items(), key=lambda kv: headline(kv[1], m), default=None)
    return " | ".join(
        [
            folder.name,
            m,
            str(r["train_rows"]),
            f"**{f(r.get('val'))}**",
            f"{r['head']['n_neurons']} ({100 * r['head']['neuron_fraction']:.0f}%)",
            f(b.get("all_layers_concatenated")),
            f"{f(best[1])} (L{best[0]})" if best else "–",
            f(b.get("embed_mean")),
            f(b.get("embed_token")),
            f(b.get("random_neurons")),
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path, help="folders of `neuronhead fit --baselines`")
    folders = ap.parse_args().folders
    print(
        "| task | metric | train rows | head | neurons | all layers | best layer | sentence emb. "
        "| first/last token | random neurons |"
    )
    print("|" + "---|" * 10)
    for folder in folders:
        if (folder / "report.json").is_file():
            print("| " + row(folder) + " |")


if __name__ == "__main__":
    main()
