"""One scoping mechanism: what a user may read is decided by the declared rules
(``<domain>/scoping.py``, on ``accounts.scoping.ScopeRule``), and every question about a region's
subtree is answered by ``regions/service.py``. A region's materialized path never leaves it but
as the official's subtree the actor carries (``accounts/auth.py`` loads it, the scoping rules
hand it to ``regions.service.in_subtree``)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "marketplace"
#: Where the path is the subject: the tree itself.
_TREE = {"regions/service.py", "regions/models.py"}
#: Where the actor's subtree is loaded.
_ACTOR = {"accounts/auth.py"}


def _findings(path: Path, source: str) -> list[str]:
    name = path.relative_to(ROOT).as_posix()
    if name in _TREE:
        return []
    found = []
    for node in ast.walk(ast.parse(source)):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Attribute):
            receiver = node.value
            if (
                node.attr == "path"
                and not (isinstance(receiver, ast.Name) and receiver.id == "request")
                and name not in _ACTOR
            ):
                found.append(f"{where} reads a path")
            if node.attr == "region_path" and not (name.endswith("/scoping.py") or name in _ACTOR):
                found.append(f"{where} reads the actor's region path outside a scoping rule")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "startswith"
            and "path" in ast.unparse(node.func.value).lower()
            and "request" not in ast.unparse(node.func.value)
        ):
            found.append(f"{where} matches a path prefix by hand")
    return found


def test_no_region_path_is_read_outside_the_mechanism():
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        found += _findings(path, path.read_text())
    assert found == []


def test_the_check_sees_a_hand_written_subtree():
    probe = ROOT / "reports" / "probe.py"
    source = (
        "def probe(session, actor, region):\n"
        "    ok = region.path.startswith(actor.region_path)\n"
        "    return sa.select(Region.id).where(Region.path.startswith(region.path))\n"
    )
    found = _findings(probe, source)
    assert any("matches a path prefix by hand" in f for f in found)
    assert any("region path outside a scoping rule" in f for f in found)
    assert sum("reads a path" in f for f in found) == 3
