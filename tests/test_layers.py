"""The package's shape, read off its source: imports run downwards only, everything is
imported under the one name `postroom`, and SQL lives in `store/` only.

Read with `ast`, not by importing, so a function-local import counts as much as a
top-level one and nothing here depends on what a test happened to load.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.nostore

ROOT = Path(__file__).resolve().parent.parent

# bottom to top; a package may import its own modules and any package of a lower rank
# (packages of one rank know nothing of each other)
RANK = {
    "core": 0,
    "store": 1,
    "content": 2,
    "feeds": 2,
    "emails": 3,
    "service": 4,
    "web": 4,
    "scheduler": 5,
}
TOP_NAMES = set(RANK)
SQL_LIBRARIES = {"sqlalchemy", "psycopg", "sqlite3"}
SQL_TEXT = re.compile(
    r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b",
    re.IGNORECASE | re.DOTALL,
)


def package_files(root: Path = ROOT) -> list[Path]:
    files = [root / "scheduler.py", root / "__init__.py"]
    for name in RANK:
        if name != "scheduler":
            files += sorted((root / name).rglob("*.py"))
    return [f for f in files if f.exists()]


def layer_of(path: Path, root: Path = ROOT) -> str:
    relative = path.relative_to(root)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) for each import in `path`, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ["postroom", *path.relative_to(root).parent.parts]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def test_the_package_files_are_found():
    files = package_files()
    assert len(files) > 60
    assert {layer_of(f) for f in files} >= set(RANK) - {"__init__"}


def upward_imports(root: Path) -> list[str]:
    upward = []
    for path in package_files(root):
        mine = layer_of(path, root)
        for line, name in imported(path, root):
            parts = name.split(".")
            if parts[0] != "postroom" or len(parts) < 2 or parts[1] not in RANK:
                continue
            theirs = parts[1]
            if theirs != mine and (mine == "__init__" or RANK[theirs] >= RANK[mine]):
                upward.append(f"{path.relative_to(root)}:{line} ({mine}) imports {name}")
    return upward


def test_imports_run_downwards_only():
    upward = upward_imports(ROOT)
    assert not upward, "imports that do not run downwards:\n" + "\n".join(upward)


def test_everything_is_imported_under_the_one_name():
    everywhere = package_files() + sorted((ROOT / "tests").rglob("*.py"))
    everywhere += sorted((ROOT / "bench").rglob("*.py"))
    bare = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in everywhere
        for line, name in imported(path)
        if name.split(".")[0] in TOP_NAMES
    ]
    assert not bare, "imports outside the postroom namespace:\n" + "\n".join(bare)


def test_sql_lives_in_store_only():
    outside = []
    for path in package_files():
        if layer_of(path) == "store":
            continue
        for line, name in imported(path):
            if name.split(".")[0] in SQL_LIBRARIES:
                outside.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
        for node in ast.walk(ast.parse(path.read_text())):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and SQL_TEXT.search(node.value):
                outside.append(f"{path.relative_to(ROOT)}:{node.lineno} holds SQL")
    assert not outside, "SQL outside store/:\n" + "\n".join(outside)


def test_the_layer_check_sees_an_upward_import(tmp_path):
    # the check itself can fail: a store module importing content, absolutely or
    # relatively, is caught; core importing core is not
    (tmp_path / "store").mkdir()
    (tmp_path / "core").mkdir()
    (tmp_path / "store" / "probe.py").write_text(
        "from postroom.content.intake import list_content\nfrom ..emails import outbox\n"
    )
    (tmp_path / "core" / "fine.py").write_text("from . import model\n")
    assert upward_imports(tmp_path) == [
        "store/probe.py:1 (store) imports postroom.content.intake",
        "store/probe.py:2 (store) imports postroom.emails",
    ]
