"""tools/planted_bugs.py stays applicable: each planted bug's text is still in its file exactly
once and each test named to catch it still exists (`make planted-bugs` runs them; not here, as
planting them all takes minutes)."""

from __future__ import annotations

import ast
import sys

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import planted_bugs  # noqa: E402


def test_every_planted_bug_applies_once_and_changes_its_file() -> None:
    assert len(planted_bugs.BUGS) == 9
    for bug in planted_bugs.BUGS:
        source = (REPO_ROOT / bug.path).read_text()
        assert source.count(bug.original) == 1, bug.name
        assert bug.planted != bug.original
        ast.parse(source.replace(bug.original, bug.planted))  # still Python: the tests fail, not the import


def test_every_named_test_exists() -> None:
    for bug in planted_bugs.BUGS:
        for test in bug.tests:
            path, name = test.split("::")
            functions = {node.name for node in ast.walk(ast.parse((REPO_ROOT / path).read_text()))
                         if isinstance(node, ast.FunctionDef)}
            assert name in functions, f"{bug.name}: {test} not found"
