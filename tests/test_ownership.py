"""Each table is written only by its owner, the package whose ``models.py`` maps it
(``tests/ownership.py`` says how; this is its static half and the proof that its run-time half
catches what it must)."""

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from marketplace.db import Base
from marketplace.idempotency import IdempotencyKey
from marketplace.orders.models import Order
from tests.ownership import WrittenByAnother, owner_package

ROOT = Path(__file__).resolve().parent.parent / "marketplace"
_SQL_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)


def _owners() -> tuple[dict[str, str], dict[str, str]]:
    by_class, by_table = {}, {}
    for mapper in Base.registry.mappers:
        owner = owner_package(mapper.class_.__module__)
        by_class[mapper.class_.__name__] = owner
        by_table[mapper.local_table.name] = owner
    by_class["IdempotencyKey"] = by_table["idempotency_keys"] = owner_package(
        IdempotencyKey.__module__
    )
    return by_class, by_table


def _table_aliases(tree) -> dict[str, str]:
    """``orders = Order.__table__`` -> {"orders": "Order"}."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            target = node.targets[0]
            targets = target.elts if isinstance(target, ast.Tuple) else [target]
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            for name, value in zip(targets, values, strict=False):
                if (
                    isinstance(value, ast.Attribute)
                    and value.attr == "__table__"
                    and isinstance(name, ast.Name)
                    and isinstance(value.value, ast.Name)
                ):
                    aliases[name.id] = value.value.id
    return aliases


def _foreign_writes(path: Path, module: str, by_class, by_table) -> list[str]:
    package = owner_package(module)
    tree = ast.parse(path.read_text())
    aliases = _table_aliases(tree)
    found = []
    for node in ast.walk(tree):
        where = f"{module}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("insert", "update", "delete") and node.args:
                target = node.args[0]
                if isinstance(target, ast.Attribute) and target.attr == "__table__":
                    target = target.value
                model = getattr(target, "id", None) or getattr(target, "attr", None)
                model = aliases.get(model, model)
                if model in by_class and by_class[model] != package:
                    found.append(f"{where} {name}({model}), owned by {by_class[model]}")
            elif isinstance(func, ast.Name) and by_class.get(func.id, package) != package:
                found.append(f"{where} creates {func.id}, owned by {by_class[func.id]}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for table in _SQL_WRITE.findall(node.value):
                if by_table.get(table, package) != package:
                    found.append(f"{where} SQL writes {table}, owned by {by_table[table]}")
    return found


def test_no_module_writes_a_table_of_another_package(app):
    by_class, by_table = _owners()
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        found += _foreign_writes(path, module, by_class, by_table)
    assert found == []


def test_the_static_check_sees_each_kind_of_write(tmp_path):
    by_class, by_table = _owners()
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import sqlalchemy as sa\n"
        "from marketplace.orders.models import Order, OrderLine\n"
        "lines = OrderLine.__table__\n"
        "def probe(session):\n"
        "    session.execute(sa.insert(lines), [])\n"
        "    session.execute(sa.update(Order).values(note='x'))\n"
        "    session.add(Order(number='x'))\n"
        "    session.execute(sa.text('DELETE FROM order_events'))\n"
    )
    found = _foreign_writes(probe, "marketplace.payments.probe", by_class, by_table)
    assert sorted(finding.split(" ", 1)[1] for finding in found) == [
        "SQL writes order_events, owned by marketplace.orders",
        "creates Order, owned by marketplace.orders",
        "insert(OrderLine), owned by marketplace.orders",
        "update(Order), owned by marketplace.orders",
    ]


def _run_as(module: str, source: str, **names):
    """Run ``source`` as if it were code of ``module`` (its frames carry that name)."""
    scope = {"__name__": module, **names}
    exec(compile(source, f"<{module}>", "exec"), scope)
    return scope["probe"]


def test_a_write_from_another_package_fails_at_run_time(app):
    order = Order(number="PROBE")  # a test builds any row it likes
    probe = _run_as(
        "marketplace.payments.probe",
        "def probe(order, at):\n    order.paid_at = at\n",
    )
    with pytest.raises(
        WrittenByAnother, match=re.escape("marketplace.payments sets paid_at of a Order")
    ):
        probe(order, datetime.now(UTC))
    create = _run_as(
        "marketplace.reports.probe", "def probe(Order):\n    return Order(number='x')\n"
    )
    with pytest.raises(WrittenByAnother, match=re.escape("marketplace.reports creates a Order")):
        create(Order)


def test_the_owner_writes_its_own_rows_whoever_calls_it(app):
    owner = _run_as("marketplace.orders.probe", "def probe(order, at):\n    order.paid_at = at\n")
    caller = _run_as(
        "marketplace.payments.probe",
        "def probe(order, at):\n    owner(order, at)\n",
        owner=owner,
    )
    order = Order(number="PROBE")
    caller(order, datetime.now(UTC))
    assert order.paid_at is not None
