"""The layout shows the layers: import contracts (pyproject.toml [tool.importlinter])
and the README's layout table against the tree."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    # In a process of its own: import-linter reads pyproject.toml from the working directory,
    # and a test process that other tests have filled with Scrapy and Twisted state is no
    # place for it (it failed there with a stray zope.interface attribute).
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                               "sys.exit(lint_imports(no_cache=True))"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, "an import crosses a layer:\n" + result.stdout[-3000:] + result.stderr[-2000:]


def _layout_rows() -> dict[str, set[str]]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Layout"):]
    section = section[:section.index("\n## ", 1)]
    rows = {}
    for match in re.finditer(r"^\| `(crawler/[a-z_/]*)` \| (.*) \|$", section, re.M):
        rows[match.group(1)] = set(re.findall(r"`([a-z_]+\.py)`", match.group(2)))
    return rows


def test_readme_layout_table_matches_the_tree():
    rows = _layout_rows()
    folders = {"crawler/"} | {f"crawler/{p.name}/" for p in (ROOT / "crawler").iterdir()
                              if p.is_dir() and (p / "__init__.py").exists()}
    assert set(rows) == folders
    for folder, named in rows.items():
        on_disk = {p.name for p in (ROOT / folder).glob("*.py") if p.name != "__init__.py"}
        assert named == on_disk, f"README layout row {folder}: missing {on_disk - named}, gone {named - on_disk}"


def test_the_scrapy_root_holds_only_scrapy_components_and_their_configuration():
    root = {p.name for p in (ROOT / "crawler").glob("*.py")} - {"__init__.py"}
    assert root == {"settings.py", "items.py", "pipelines.py", "workers.py", "forkserver_preload.py",
                    "extensions.py", "distributed.py", "config.py", "outcomes.py"}
