"""Nothing patches a library's insides: no code assigns to a private attribute of an object it does not own.

Where a library bug forces a workaround it lives in one module with a test and a link upstream; the first
round patched faust's gap booking, aiokafka's fetch routine and ProcessPoolExecutor's process table at run
time, each a copy that a library upgrade would silently break.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def private_assignments(tree: ast.AST) -> list[tuple[int, str]]:
    """Assignments to ``something._name`` where ``something`` is not ``self`` or ``cls``."""
    found = []
    for node in ast.walk(tree):
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AugAssign | ast.AnnAssign)
            else []
        )
        for target in targets:
            if not isinstance(target, ast.Attribute) or not target.attr.startswith("_") or target.attr.startswith("__"):
                continue
            owner = target.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            found.append((node.lineno, ast.unparse(target)))
    return found


def test_no_code_assigns_to_a_private_attribute_of_a_library() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {target}"
        for folder in ("libs", "services", "apps")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, target in private_assignments(ast.parse(path.read_text()))
    ]
    assert offenders == []


def test_the_check_sees_a_patch() -> None:
    patched = ast.parse("from faust.transport.consumer import Consumer\nConsumer._add_gap = add_gap\nself._x = 1\n")
    assert private_assignments(patched) == [(2, "Consumer._add_gap")]
