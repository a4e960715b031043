"""How visibility is decided: the mechanism. Each domain declares the rules for its own models
beside them (``households/scoping.py``, ``orders/scoping.py``, ...), as ``ScopeRule`` objects;
every list, detail and report of scoped rows goes through one of them.

An object outside the actor's scope is reported as missing (404), never as forbidden, so its
existence does not leak. Admins see everything; a role a rule does not name sees nothing.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from marketplace.accounts.auth import Actor
from marketplace.accounts.models import Role
from marketplace.errors import NotFound
from marketplace.reasons import reason

#: builds the condition selecting the rows one actor may see
Condition = Callable[[Actor], sa.ColumnElement]
_SCOPED_ROLES = ("official", "station", "unit", "buyer")
#: A row that does not exist, or that the actor may not see: ``kind`` is its model's name.
NOT_FOUND = reason("record.not_found", "{kind} {id} not found.")


@dataclass(frozen=True)
class ScopeRule:
    """Who reaches which rows of ``model``, role by role; ``None`` means none of them."""

    model: type
    official: Condition | None = None
    station: Condition | None = None
    unit: Condition | None = None
    buyer: Condition | None = None

    def clause(self, actor: Actor) -> sa.ColumnElement:
        if actor.role is Role.admin:
            return sa.true()
        condition = getattr(self, actor.role.value)
        return condition(actor) if condition is not None else sa.false()

    def restrict(self, stmt: sa.Select, actor: Actor) -> sa.Select:
        """``stmt`` narrowed to the rows of the model that ``actor`` may see."""
        return stmt.where(self.clause(actor))

    def visible_ids(self, actor: Actor) -> sa.Select:
        """A subquery of the ids ``actor`` may see, to scope rows that refer to this model."""
        return self.restrict(sa.select(self.model.id), actor)

    @classmethod
    def through(cls, model: type, reference, parent: "ScopeRule") -> "ScopeRule":
        """Rows of ``model`` are seen by whoever sees the ``parent`` row that their
        ``reference`` column points to (a SKU by whoever sees its product)."""

        def condition(actor: Actor) -> sa.ColumnElement:
            return reference.in_(parent.visible_ids(actor))

        named = [role for role in _SCOPED_ROLES if getattr(parent, role) is not None]
        return cls(model, **dict.fromkeys(named, condition))

    def get(self, session, object_id: int, actor: Actor, *, options=(), lock: bool = False):
        """The object if ``actor`` may see it; otherwise NotFound, exactly as if it did not
        exist. ``lock`` also locks its row for the rest of the transaction.

        Without options or lock, the statement is the one ``_get_statement`` built for every
        actor of the role, given this one's values: built per request, it cost a detail or a
        report's scope check more than running it (0.45 ms where the statement takes 0.23)."""
        if options or lock:
            stmt = self.restrict(sa.select(self.model).where(self.model.id == object_id), actor)
            if lock:
                stmt = stmt.with_for_update(of=self.model)
                stmt = stmt.execution_options(populate_existing=True)
            found = session.execute(stmt.options(*options)).unique().scalar_one_or_none()
        else:
            values = _actor_values(actor)
            stmt = _get_statement(self, actor.role, frozenset(values))
            found = session.execute(stmt, {**values, "object_id": object_id}).scalar_one_or_none()
        if found is None:
            raise NotFound(NOT_FOUND(kind=self.model.__name__, id=object_id))
        return found


#: What a rule's condition may read of an actor, as the named parameters of ``_get_statement``.
_ACTOR_PARAMETERS = {
    "user_id": sa.bindparam("actor_user_id", type_=sa.Integer),
    "station_id": sa.bindparam("actor_station_id", type_=sa.Integer),
    "station_village_id": sa.bindparam("actor_station_village_id", type_=sa.Integer),
    "region_id": sa.bindparam("actor_region_id", type_=sa.Integer),
    "region_path": sa.bindparam("actor_region_path", type_=sa.String),
    "unit_id": sa.bindparam("actor_unit_id", type_=sa.Integer),
}


def _actor_values(actor: Actor) -> dict:
    """The actor's values that are set, by their parameters' names."""
    values = {}
    for name, parameter in _ACTOR_PARAMETERS.items():
        value = getattr(actor, name)
        if value is not None:
            values[parameter.key] = value
    return values


@functools.cache
def _get_statement(rule: ScopeRule, role: Role, given: frozenset) -> sa.Select:
    """``rule.get``'s statement for the actors of ``role`` whose set values are ``given`` (by
    their parameters' names), the object's id the parameter ``object_id``: the rule's condition
    built from an actor whose values are parameters. A value the actor lacks stays None, as it
    is in the actor's own condition (``column == None`` is ``IS NULL``, where a parameter would
    compare with NULL and match nothing), so both select the same rows;
    ``tests/accounts/test_scoping.py`` holds them to it."""
    stand_in = Actor(
        username="",
        role=role,
        **{
            name: (parameter if parameter.key in given else None)
            for name, parameter in _ACTOR_PARAMETERS.items()
        },
    )
    model = rule.model
    return rule.restrict(
        sa.select(model).where(model.id == sa.bindparam("object_id", type_=sa.Integer)),
        stand_in,
    )


class Seen:
    """A row as one reader sees it: its own attributes, with some replaced (a station's lines
    of a shared order, and the money of those lines only). Output schemas read it like the row.
    """

    def __init__(self, row, **overrides):
        self._row = row
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self._row, name)


def with_lines_seen(row, lines: list, every: int, sums: dict[str, str]) -> Seen:
    """``row`` showing only ``lines`` of its ``every`` lines. When some are hidden, each of its
    amounts named in ``sums`` (``{"total_fen": "line_total_fen"}``) is the sum over the lines
    seen, so hidden lines leak neither as rows nor through the totals."""
    if len(lines) == every:
        return Seen(row, lines=lines)
    totals = {name: sum(getattr(line, part) for line in lines) for name, part in sums.items()}
    return Seen(row, lines=lines, **totals)
