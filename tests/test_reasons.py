"""Every reason the service gives carries a code (``marketplace/reasons.py``).

Statically, over ``marketplace/``: whatever is raised as a problem (a ``DomainError``, a
marshmallow ``ValidationError``, the exceptions that become problems: ``FileProblem``,
``BankFileError``) is given a declared reason, ``SOME_REASON(...)``; and so is every message
put under a field (``errors["x"] = [...]``, ``ValidationFailed({"x": [...]})``). A message that
travels inside an exception is read back as ``error.reason``. At run time, under test, a
problem sent with a reason that has no code fails the test that meets it
(``REQUIRE_REASON_CODES``), which covers the messages of the libraries as well."""

import ast
from pathlib import Path

from marketplace.errors import DomainError

ROOT = Path(__file__).resolve().parent.parent / "marketplace"
#: Exceptions whose first argument is a reason, besides every DomainError.
_CARRIERS = {"ValidationError", "FileProblem", "BankFileError", "Problem"}


def _problem_classes() -> set[str]:
    found, todo = set(), [DomainError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found | _CARRIERS


def _is_reason(node, typed=frozenset()) -> bool:
    """``A_REASON(...)``, ``module.A_REASON(...)``, a message read back: ``x.reason``, or a
    name the function declares a ``Message`` (a parameter or a variable annotated so)."""
    if isinstance(node, ast.Name):
        return node.id in typed
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        return (name.isupper() and not name.startswith("_")) or name == "Message"
    if isinstance(node, ast.Attribute):
        return node.attr in ("reason", "detail")
    return False


def _messages_ok(node, typed=frozenset()) -> bool:
    """A list of reasons, or a dict of them by field (a name: built elsewhere and checked
    there)."""
    if isinstance(node, ast.List):
        return all(_is_reason(item, typed) for item in node.elts)
    if isinstance(node, ast.Dict):
        return all(_messages_ok(value, typed) for value in node.values)
    if isinstance(node, ast.DictComp):
        return _messages_ok(node.value, typed)
    if isinstance(node, ast.ListComp):
        return _is_reason(node.elt, typed)
    return isinstance(node, ast.Name | ast.Attribute | ast.Subscript)


def _typed_as_message(tree) -> frozenset[str]:
    """Names annotated as a ``Message`` anywhere in the module: parameters and variables."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            target, annotation = node.arg, node.annotation
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, annotation = node.target.id, node.annotation
        else:
            continue
        if "Message" in ast.unparse(annotation).replace("| None", "").split():
            names.add(target)
    return frozenset(names)


def _findings(name: str, source: str, problems: set[str]) -> list[str]:
    found = []
    tree = ast.parse(source)
    typed = _typed_as_message(tree)
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            call = node.exc
            func = call.func
            cls = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if cls in problems:
                if cls == "ValidationFailed":
                    ok = bool(call.args) and _messages_ok(call.args[0], typed)
                    ok = ok and all(_is_reason(arg, typed) for arg in call.args[1:])
                else:
                    ok = bool(call.args) and _is_reason(call.args[0], typed)
                ok = ok and all(
                    _messages_ok(k.value, typed) for k in call.keywords if k.arg == "errors"
                )
                if not ok:
                    found.append(f"{where} raises {cls} without a declared reason")
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id.endswith("errors")
                    and not _messages_ok(node.value, typed)
                ):
                    found.append(f"{where} puts a message without a declared reason")
    return found


def test_every_reason_given_is_declared(app):
    problems = _problem_classes()
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        found += _findings(path.relative_to(ROOT).as_posix(), path.read_text(), problems)
    assert found == []


def test_the_check_sees_a_plain_text_reason(app):
    source = (
        "def probe(errors):\n"
        "    errors['a'] = ['plain text']\n"
        "    errors['b'] = [f'{1} formatted']\n"
        "    errors['c'] = [A_REASON(x=1)]\n"
        "    raise Conflict(f'Order {1} is paid')\n"
        "def probe2():\n"
        "    raise ValidationFailed({'x': ['plain']})\n"
        "def probe3():\n"
        "    raise Conflict(ALREADY_PAID(order=1), errors={'x': [str(1)]})\n"
        "def probe4(error):\n"
        "    raise NotFound(NO_SUCH_ORDER(order_id=1))\n"
    )
    found = _findings("probe.py", source, _problem_classes())
    assert [finding.split(" ", 1)[1] for finding in found] == [
        "puts a message without a declared reason",
        "puts a message without a declared reason",
        "raises Conflict without a declared reason",
        "raises ValidationFailed without a declared reason",
        "raises Conflict without a declared reason",
    ]
