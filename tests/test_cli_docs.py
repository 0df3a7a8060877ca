"""docs/cli.md is what the parser generates, and the check notices a page out of step."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("cli_docs", ROOT / "scripts" / "cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_is_what_the_parser_generates():
    module = _module()
    page = module.CLI_MD.read_text(encoding="utf-8")
    for name in module.help_texts():
        assert f"## neuronhead {name}\n" in page, f"docs/cli.md has no section for {name}"
    assert module.render() == page, "docs/cli.md is stale: run scripts/cli_docs.py"


def test_a_changed_help_text_makes_the_page_stale(monkeypatch):
    module = _module()
    page = module.CLI_MD.read_text(encoding="utf-8")
    from neuronhead import cli

    build = cli.build_parser

    def changed():
        parser = build()
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        for action in sub.choices["run"]._actions:
            if action.dest == "out":
                action.help = "a help text the page does not hold"
        return parser

    monkeypatch.setattr(cli, "build_parser", changed)
    assert module.render() != page
