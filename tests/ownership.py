"""Each table has one owner: only the package whose ``models.py`` maps it writes it.

Checked two ways, since neither alone sees every write:

* statically (``tests/test_ownership.py``): Core ``insert``/``update``/``delete`` of a model,
  raw SQL naming a table, and a model's constructor, anywhere in ``marketplace/``;
* at run time, for the whole suite (installed by ``tests/conftest.py``): every constructor call
  and every assignment to a mapped column of a model (``order.paid_at = ...``) is traced to the
  innermost ``marketplace`` module on the stack; one outside the model's package fails the
  test that made it, naming both. Tests, the seed and the benchmarks build any rows they like:
  a write whose innermost caller is not in ``marketplace`` is theirs.
"""

import sys

from sqlalchemy import event

#: Modules that hold no rule of any domain and call no writer of their own: a write passing
#: through them belongs to whoever called them.
_PASS_THROUGH = ("marketplace.db",)


def owner_package(module: str) -> str:
    """``marketplace.orders`` for ``marketplace.orders.models``; infrastructure modules
    (``marketplace.idempotency``) own their own tables."""
    parts = module.split(".")
    return ".".join(parts[:2])


class WrittenByAnother(AssertionError):
    pass


def _writer(depth: int = 2) -> str | None:
    """The package of the innermost ``marketplace`` frame calling in, or None when the
    innermost caller outside SQLAlchemy is a test, the seed or a benchmark."""
    frame = sys._getframe(depth)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("marketplace.") and not module.startswith(_PASS_THROUGH):
            return owner_package(module)
        if not module.startswith(("sqlalchemy", "tests.ownership", "marketplace", "contextlib")):
            return None
        frame = frame.f_back
    return None


def _check(model: type, what: str) -> None:
    owner = owner_package(model.__module__)
    writer = _writer(3)
    if writer is not None and writer != owner:
        raise WrittenByAnother(
            f"{writer} {what} {model.__name__} ({model.__table__.name}), which {owner} owns: "
            f"call a function of {owner} instead"
        )


def install(base) -> None:
    """Watch every mapped class of ``base``'s registry (once per process)."""
    if getattr(base, "_ownership_watched", False):
        return
    base._ownership_watched = True
    for mapper in base.registry.mappers:
        model = mapper.class_

        def on_init(target, args, kwargs, model=model):
            _check(model, "creates a")

        event.listen(model, "init", on_init)
        for attribute in mapper.column_attrs:

            def on_set(target, value, old, initiator, model=model, name=attribute.key):
                _check(model, f"sets {name} of a")

            event.listen(getattr(model, attribute.key), "set", on_set)
