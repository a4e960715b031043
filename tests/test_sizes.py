"""No module of ``marketplace/`` over 400 lines, no function over 60: past that a reader
loses the thread, and a rule hides inside something else. A module that grows splits by what
its parts do; a function, into steps with names."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "marketplace"
MODULE_LINES = 400
FUNCTION_LINES = 60


def _oversized() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        name = path.relative_to(ROOT.parent).as_posix()
        text = path.read_text()
        lines = text.count("\n")
        if lines > MODULE_LINES:
            found.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES:
                    found.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    return found


def test_no_module_or_function_is_too_long_to_read():
    assert _oversized() == []
