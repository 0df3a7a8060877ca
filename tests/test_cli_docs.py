import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_cli_reference_matches_the_cli():
    spec = importlib.util.spec_from_file_location("cli_docs", ROOT / "scripts" / "cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text()
    for name in module.help_texts():
        assert f"<!-- cli:{name} -->" in readme, f"README has no CLI reference for {name}"
    assert module.render(readme) == readme, "README's CLI reference is stale: run scripts/cli_docs.py"
